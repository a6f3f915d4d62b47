import { parseArgs, type ParseArgsConfig } from 'node:util';
import { codedError } from '../protocol/errors.js';

/** A usage mistake: main prints the message and exits with status 2. */
export class UsageError extends codedError('E_USAGE') {
  override name = 'UsageError';
}

type Options = NonNullable<ParseArgsConfig['options']>;

/**
 * Strict flag parsing shared by every command: unknown flags and missing values
 * become UsageError with the command's name, never a stack trace.
 */
export function parse<O extends Options>(command: string, argv: string[], options: O, allowPositionals = true) {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals, strict: true, tokens: true });
  } catch (err) {
    // parseArgs names the stray flag but not the ones that would work
    const unknown = (err as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' ? /'([^']+)'/.exec((err as Error).message)?.[1] : undefined;
    if (unknown !== undefined) throw new UsageError(`${command}: unknown flag '${unknown}'; it takes ${flagNames(options).join(', ')}`);
    throw new UsageError(`${command}: ${(err as Error).message}`);
  }
  // parseArgs keeps the last of a repeated value silently; in a script that is
  // almost always a mistake (an edited line, a default and an override), so say so.
  const seen = new Map<string, string>();
  for (const t of parsed.tokens) {
    if (t.kind !== 'option' || t.value === undefined || options[t.name]?.multiple) continue;
    const first = seen.get(t.name);
    if (first !== undefined) throw new UsageError(`${command}: --${t.name} given more than once ('${first}', '${t.value}'); give it once`);
    seen.set(t.name, t.value);
  }
  return { values: parsed.values, positionals: parsed.positionals };
}

/** The flags of an option table as a user types them: '--out (-o)'. */
export function flagNames(options: Options): string[] {
  return Object.entries(options).map(([name, o]) => (o.short ? `--${name} (-${o.short})` : `--${name}`));
}

// Plain decimal numbers only: Number() would also take '', ' ' (as 0), '0x10' and '0b1'.
const INTEGER = /^[+-]?\d+$/;
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

export function intFlag(command: string, name: string, value: string | undefined, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined) return fallback;
  const n = INTEGER.test(value) ? Number(value) : NaN;
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new UsageError(`${command}: --${name} must be an integer in [${min}, ${max}], got '${value}'`);
  }
  return n;
}

export function numberFlag(command: string, name: string, value: string | undefined, fallback: number, min = -Infinity, max = Infinity): number {
  if (value === undefined) return fallback;
  const n = DECIMAL.test(value) ? Number(value) : NaN;
  if (!Number.isFinite(n) || n < min || n > max) {
    throw new UsageError(`${command}: --${name} must be a number in [${min}, ${max}], got '${value}'`);
  }
  return n;
}

/**
 * A share given as a fraction or a percentage ("0.2" or "20%"), in [min, max],
 * or strictly between them when `open` (a cut of 0 or 1 means nothing).
 */
export function fractionFlag(command: string, name: string, value: string, min: number, max: number, open = false): number {
  const percent = value.endsWith('%');
  const text = percent ? value.slice(0, -1) : value;
  const n = DECIMAL.test(text) ? Number(text) / (percent ? 100 : 1) : NaN;
  const inside = open ? n > min && n < max : n >= min && n <= max;
  if (!Number.isFinite(n) || !inside) {
    const range = open ? `(${min}, ${max})` : `[${min}, ${max}]`;
    throw new UsageError(`${command}: --${name} must be a fraction in ${range} or a percentage such as 20%, got '${value}'`);
  }
  return n;
}

export function requireFlag<T>(command: string, name: string, value: T | undefined): T {
  if (value === undefined || value === '') throw new UsageError(`${command}: --${name} is required`);
  return value;
}

export function choiceFlag<const C extends readonly string[]>(command: string, name: string, value: string | undefined, choices: C, fallback: C[number]): C[number] {
  if (value === undefined) return fallback;
  if (!(choices as readonly string[]).includes(value)) {
    throw new UsageError(`${command}: --${name} must be one of ${choices.join(', ')}, got '${value}'`);
  }
  return value as C[number];
}

/** Machine-readable output: one JSON document on stdout. */
export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}
