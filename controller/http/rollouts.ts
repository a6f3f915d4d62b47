import type { FastifyError, FastifyInstance } from 'fastify';
import { CatalogError } from '../catalog/catalog.js';
import type { RolloutEngine } from '../rollout/engine.js';
import { SpecError } from '../rollout/spec.js';
import { RolloutConflictError, TransitionError } from '../rollout/states.js';
import { rolloutStatus, type StatusDeps } from '../rollout/status.js';

/** /api/rollouts: create from a spec (JSON), status with every device's choice and explanation, pause/resume/abort. */
export function rolloutsRoutes(engine: RolloutEngine, deps: StatusDeps) {
  return async function (app: FastifyInstance): Promise<void> {
    app.setErrorHandler((err: FastifyError, request, reply) => {
      if (err instanceof RolloutConflictError) return reply.code(409).send({ error: 'conflict', message: err.message });
      if (err instanceof SpecError || err instanceof TransitionError) {
        const missing = /^no rollout/.test(err.message);
        return reply.code(missing ? 404 : 400).send({ error: missing ? 'not-found' : 'bad-request', message: err.message });
      }
      if (err instanceof CatalogError) return reply.code(err.code === 'not-found' ? 404 : 400).send({ error: err.code, message: err.message });
      if (err.statusCode && err.statusCode < 500) return reply.code(err.statusCode).send({ error: 'bad-request', message: err.message });
      request.log.error({ err }, 'request failed');
      return reply.code(500).send({ error: 'internal', message: 'internal error' });
    });

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
