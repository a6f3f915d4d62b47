import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { EdgefitError } from '../../protocol/errors.js';

function tokenOf(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (header?.startsWith('Bearer ')) return header.slice(7).trim();
  // EventSource cannot set headers: the dashboard's live stream passes it in the query.
  const query = request.query as Record<string, unknown> | undefined;
  return typeof query?.token === 'string' ? query.token : undefined;
}

function same(a: string, b: string): boolean {
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

/** Every /api route needs the admin token; nothing is served open by default. */
export function requireAdminToken(app: FastifyInstance, adminToken: string): void {
  app.addHook('onRequest', async (request) => {
    if (!isAdminApi(request)) return;
    const token = tokenOf(request);
    if (!token || !same(token, adminToken)) throw new EdgefitError('E_UNAUTHORIZED', {});
  });
}
