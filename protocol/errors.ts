// One error class for every failure edgefit names: a code from the catalogue
// (protocol/error-catalogue.ts) with its typed details, so the CLI, the HTTP
// API and the logs say one failure with one code and one wording.
//
// Why here: protocol/ is the one folder every layer already imports and that
// imports none of them (compress/ reads protocol/ for lineage and detector
// checks, the agent and the controller for their messages). The catalogue
// names an HTTP status and an exit status as plain numbers, so compress/ still
// knows nothing of HTTP or of the CLI; a top-level errors/ folder would have
// served as well, at the cost of a new root in both tsconfigs.
//
// Logs carry the code: pino's error serializer copies an error's own
// enumerable fields, so `log.error({ err })` writes err.code and err.details,
// and the CLI's loggers lift the code to the line's top (withErrorCode).
import { CATALOGUE, type ErrorCode } from './error-catalogue.js';

export { CATALOGUE, ERROR_CODES, type CatalogueEntry, type ErrorCode } from './error-catalogue.js';

/** The {name} parts of a template, as a union of names. */
type Placeholders<T extends string> = T extends `${string}{${infer Name}}${infer Rest}` ? Name | Placeholders<Rest> : never;

/**
 * The details an error of this code must carry: one value per placeholder of
 * its template (more may ride along). Distributed over a union of codes, so
 * an error of one code is an error of any code.
 */
export type DetailsOf<C extends ErrorCode> = C extends ErrorCode ? { [K in Placeholders<(typeof CATALOGUE)[C]['message']>]: string | number } & Record<string, unknown> : never;

/** Codes whose template is the raiser's own sentence. */
export type ReasonCode = { [C in ErrorCode]: (typeof CATALOGUE)[C]['message'] extends '{reason}' ? C : never }[ErrorCode];

/** A template filled with its details; a placeholder without a value stays as written (never 'undefined'). */
export function formatMessage(template: string, details: Readonly<Record<string, unknown>>): string {
  return template.replace(/\{(\w+)\}/g, (whole, name: string) => (details[name] === undefined ? whole : String(details[name])));
}

export class EdgefitError<C extends ErrorCode = ErrorCode> extends Error {
  readonly code: C;
  readonly details: DetailsOf<C>;

  constructor(code: C, details: DetailsOf<C>, options?: ErrorOptions) {
    super(formatMessage(CATALOGUE[code].message, details), options);
    this.code = code;
    this.details = details;
  }

  /** The status the HTTP API answers this error with. */
  get httpStatus(): number {
    return CATALOGUE[this.code].http;
  }

  /** The status the CLI exits with. */
  get exitCode(): 1 | 2 {
    return CATALOGUE[this.code].exit;
  }
}

/**
 * The base of an error class kept for callers that branch with `instanceof`
 * (ModelFormatError, UsageError, …): `new X(reason)` raises the catalogue's
 * code C with the sentence as its reason.
 */
export function codedError<C extends ReasonCode>(code: C) {
  return class extends EdgefitError<C> {
    constructor(reason: string, options?: ErrorOptions) {
      super(code, { reason } as unknown as DetailsOf<C>, options);
    }
  };
}

/** Whether `err` is a coded error, of `code` when given. */
export function isCoded<C extends ErrorCode>(err: unknown, code?: C): err is EdgefitError<C> {
  return err instanceof EdgefitError && (code === undefined || err.code === code);
}

/**
 * A log line's fields with the code of its coded `err` lifted to the top
 * (`code`), so a log search finds a failure by its code whatever logged it.
 * Used as pino's formatters.log (cli/log.ts).
 */
export function withErrorCode(fields: Record<string, unknown>): Record<string, unknown> {
  const err = fields.err;
  return isCoded(err) && fields.code === undefined ? { ...fields, code: err.code } : fields;
}
