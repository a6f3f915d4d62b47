import type { FastifySchemaCompiler } from 'fastify';
import type { z } from 'zod';
import { firstIssue } from '../../protocol/first-issue.js';
import { codedError } from '../../protocol/errors.js';

/** A request that failed validation: E_BAD_REQUEST (400) with the first problem named. */
export class BadRequest extends codedError('E_BAD_REQUEST') {}

/** The error a failed request part becomes: its message is the one line the client reads. */
export type IssueError = (error: z.ZodError, part: string) => Error;

/** The API's default: the first problem with its path ('limit: Too small: expected number to be >=1'), as a 400. */
export const pathAndProblem: IssueError = (error, part) => new BadRequest(firstIssue(error, part === 'querystring' ? 'query' : part));

/** The first problem's own message, for schemas whose messages are whole sentences ('name the artifact: …'). */
export function problemOnly(make: (message: string) => Error = (message) => new BadRequest(message)): IssueError {
  return (error) => make(error.issues[0]?.message ?? 'invalid request');
}

/**
 * Fastify's validator for a route's zod schemas (body, querystring, params):
 * the schema that validates a request part is the one the OpenAPI document
 * shows for it. The parsed value (coerced, with defaults) replaces the part.
 * fastify-type-provider-zod's own validatorCompiler turns zod issues into
 * Ajv-style errors and loses the wording; this one keeps the API's one line.
 * A route whose answers read otherwise passes its own `toError`.
 */
export function zodValidator(toError: IssueError = pathAndProblem): FastifySchemaCompiler<unknown> {
  return ({ schema, httpPart }) =>
    (data) => {
      const parsed = (schema as z.ZodType).safeParse(data);
      return parsed.success ? { value: parsed.data } : { error: toError(parsed.error, httpPart ?? 'body') };
    };
}
