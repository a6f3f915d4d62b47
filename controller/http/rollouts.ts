import type { FastifyInstance } from 'fastify';
import type { RolloutEngine } from '../rollout/engine.js';
import { rolloutStatus, type StatusDeps } from '../rollout/status.js';

/** /api/rollouts: create from a spec (JSON), status with every device's choice and explanation, pause/resume/abort. */
export function rolloutsRoutes(engine: RolloutEngine, deps: StatusDeps) {
  return async function (app: FastifyInstance): Promise<void> {
    app.get('/api/rollouts', async () => ({ rollouts: deps.store.list().map((r) => rolloutStatus(deps, r.id, { events: 0 })) }));

    app.post('/api/rollouts', async (request, reply) => {
      const rollout = engine.create(request.body);
      return reply.code(201).send(rolloutStatus(deps, rollout.id));
    });

    app.get<{ Params: { id: string } }>('/api/rollouts/:id', async (request) => rolloutStatus(deps, request.params.id));

    for (const action of ['pause', 'resume', 'abort'] as const) {
      app.post<{ Params: { id: string } }>(`/api/rollouts/:id/${action}`, async (request) => {
        engine[action](request.params.id);
        return rolloutStatus(deps, request.params.id);
      });
    }
  };
}
