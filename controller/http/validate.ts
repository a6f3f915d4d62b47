import type { FastifyError, FastifyInstance, FastifySchemaCompiler } from 'fastify';
import type { z } from 'zod';
import { BrokerSyncError } from '../device-lifecycle.js';
import { RegistryError } from '../registry.js';
import { firstIssue } from '../../protocol/first-issue.js';

/** A request that failed validation: answered 400 with the first problem named. */
export class BadRequest extends Error {}

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

const registryStatus = { invalid: 400, exists: 409, 'not-found': 404 } as const;

/** One error shape for the whole API: { error, message }. */
export function errorHandler(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError, request, reply) => {
    if (err instanceof BadRequest) return reply.code(400).send({ error: 'bad-request', message: err.message });
    if (err instanceof RegistryError) return reply.code(registryStatus[err.code]).send({ error: err.code, message: err.message });
    if (err instanceof BrokerSyncError) return reply.code(503).send({ error: 'broker-unavailable', message: err.message });
    if (err.statusCode && err.statusCode < 500) return reply.code(err.statusCode).send({ error: 'bad-request', message: err.message });
    request.log.error({ err }, 'request failed');
    return reply.code(500).send({ error: 'internal', message: 'internal error' });
  });
}
