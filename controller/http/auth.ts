import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { EdgefitError } from '../../protocol/errors.js';

/** The token of an `Authorization: Bearer` header (the one way /metrics takes its token: Prometheus sends it so). */
export function bearerToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  return header?.startsWith('Bearer ') ? header.slice(7).trim() : undefined;
}

function tokenOf(request: FastifyRequest): string | undefined {
  const bearer = bearerToken(request);
  if (bearer !== undefined) return bearer;
  // EventSource cannot set headers: the dashboard's live stream passes it in the query.
  const query = request.query as Record<string, unknown> | undefined;
  return typeof query?.token === 'string' ? query.token : undefined;
}

/** Constant-time comparison of a presented token with the expected one. */
export function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * Whether a request reaches the admin API. The router matches percent-decoded
 * paths (`/%61pi/devices` is `/api/devices`), so the raw URL alone cannot say:
 * the matched route's pattern does, and a raw `/api/` prefix covers requests
 * that match no route.
 */
function isAdminApi(request: FastifyRequest): boolean {
  const route = request.routeOptions.url;
  return request.url.startsWith('/api/') || (route !== undefined && route.startsWith('/api/'));
}

/** Every /api route needs the admin token; nothing is served open by default (/metrics checks its own token, http/metrics.ts). */
export function requireAdminToken(app: FastifyInstance, adminToken: string): void {
  app.addHook('onRequest', async (request) => {
    if (!isAdminApi(request)) return;
    const token = tokenOf(request);
    if (!token || !same(token, adminToken)) throw new EdgefitError('E_UNAUTHORIZED', {});
  });
}
