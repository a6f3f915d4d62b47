// GET /api/op-profiles: operator-level profiles per candidate file, device
// class and provider, each with its top layers (issue #21).
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { SHA256_PATTERN } from '../../protocol/artifacts.js';
import { EXECUTION_PROVIDERS } from '../../protocol/messages.js';
import type { LatencyPredictions } from '../latency-predictions.js';
import { topLayers, type OpProfileStore } from '../op-profiles.js';
import { errorResponses } from './schemas.js';

const Query = z.object({
  artifact: z.string().regex(SHA256_PATTERN).optional(),
  class: z.string().regex(/^[0-9a-f]{16}$/).optional(),
  ep: z.enum(EXECUTION_PROVIDERS).optional(),
  top: z.coerce.number().int().min(1).max(100).default(10),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  /** Whole profiles (every node and group), not only the top layers. */
  full: z.enum(['0', '1', 'true', 'false']).optional(),
});

const PredictionQuery = z.object({
  class: z.string().regex(/^[0-9a-f]{16}$/),
  ep: z.enum(EXECUTION_PROVIDERS).default('cpu'),
  /** The thread count the profiles ran with; absent: onnxruntime's choice. */
  threads: z.coerce.number().int().min(1).max(256).optional(),
});

export function opProfilesRoutes(store: OpProfileStore, predictions?: LatencyPredictions) {
  return async function (app: FastifyInstance): Promise<void> {
    app.get<{ Querystring: z.output<typeof Query> }>('/api/op-profiles', { schema: { summary: 'Operator-level profiles with their top layers', tags: ['profiles'], querystring: Query, response: { 200: z.looseObject({ opProfiles: z.array(z.looseObject({})) }).describe('The latest per candidate file, device class, provider and thread count'), ...errorResponses } } }, async (request) => {
      const q = request.query;
      const full = q.full === '1' || q.full === 'true';
      const rows = store.list({ artifactSha256: q.artifact, deviceClass: q.class, ep: q.ep }, q.limit);
      return {
        opProfiles: rows.map(({ opProfile, ...row }) => ({
          ...row,
          runs: opProfile.runs,
          kernelMs: opProfile.kernelMs,
          unmapped: opProfile.unmapped.length,
          topLayers: topLayers(opProfile, q.top),
          ...(full ? { opProfile } : {}),
        })),
      };
    });

    // The predictor of a class, provider and thread count scored on every candidate it has profiled (each
    // predicted from the others), stored and returned.
    if (predictions) {
      app.get<{ Querystring: z.output<typeof PredictionQuery> }>('/api/latency-predictions', { schema: { summary: "The latency predictor's error on every profiled candidate of a class", tags: ['profiles'], querystring: PredictionQuery, response: { 200: z.looseObject({}).describe('Each candidate predicted from the others'), ...errorResponses } } }, async (request) => {
        const q = request.query;
        return predictions.check(q.class, q.ep, q.threads ?? null);
      });
    }
  };
}
