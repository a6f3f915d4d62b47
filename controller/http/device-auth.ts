import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Registry } from '../registry.js';
import { EdgefitError } from '../../protocol/errors.js';

/** The device id and token of an `Authorization: Basic` header, if well formed. */
export function basicCredentials(header: string | undefined): { id: string; token: string } | undefined {
  if (!header?.startsWith('Basic ')) return undefined;
  const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) return undefined;
  return { id: decoded.slice(0, colon), token: decoded.slice(colon + 1) };
}

/**
 * preHandler for routes devices call with their own MQTT credentials (HTTP
 * Basic id:token), the same ones the broker checks.
 */
export function requireDevice(registry: Registry) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const creds = basicCredentials(request.headers.authorization);
    if (!creds || !registry.authenticate(creds.id, creds.token)) {
      reply.header('www-authenticate', 'Basic realm="edgefit devices"');
      throw new EdgefitError('E_DEVICE_UNAUTHORIZED', {});
    }
  };
}
