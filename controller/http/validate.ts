import type { FastifyError, FastifyInstance } from 'fastify';
import type { z } from 'zod';
import { BrokerSyncError } from '../device-lifecycle.js';
import { RegistryError } from '../registry.js';
import { firstIssue } from '../../protocol/first-issue.js';

/** A request that failed validation: answered 400 with the first problem named. */
export class BadRequest extends Error {}

export function parseBody<T extends z.ZodType>(schema: T, body: unknown): z.infer<T> {
  const parsed = schema.safeParse(body);
  if (!parsed.success) {
    throw new BadRequest(firstIssue(parsed.error, 'body'));
  }
  return parsed.data;
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
