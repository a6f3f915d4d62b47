import type { FastifyInstance } from 'fastify';
import type { ControllerMetrics } from '../metrics/metrics.js';
import { EdgefitError } from '../../protocol/errors.js';
import { bearerToken, same } from './auth.js';

/**
 * GET /metrics in the Prometheus text format, for the scrape token only
 * (metrics.token in the data folder, or $EDGEFIT_METRICS_TOKEN), in an
 * `Authorization: Bearer` header. That token opens nothing else: /api wants
 * the admin token (http/auth.ts), and the admin token does not scrape, so a
 * Prometheus server holds a credential that can read figures and change nothing.
 */
export function metricsRoutes(metrics: ControllerMetrics, token: string) {
  return async function (app: FastifyInstance): Promise<void> {
    app.get(
      '/metrics',
      {
        onRequest: async (request, reply) => {
          const presented = bearerToken(request);
          if (presented === undefined || !same(presented, token)) {
            reply.header('www-authenticate', 'Bearer realm="edgefit metrics"');
            throw new EdgefitError('E_METRICS_UNAUTHORIZED', {});
          }
        },
      },
      async (_request, reply) => {
        const { contentType, body } = await metrics.scrape();
        return reply.header('content-type', contentType).header('cache-control', 'no-store').send(body);
      },
    );
  };
}
