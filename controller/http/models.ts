import type { FastifyInstance } from 'fastify';
import { CatalogError, type Catalog } from '../catalog/catalog.js';
import type { LadderJobs } from '../catalog/ladder-jobs.js';
import { parseLadderSizes } from '../catalog/ladder-options.js';

const MAX_MODEL_BYTES = 512 * 1024 * 1024;

function modelBytes(body: unknown): Buffer {
  if (!Buffer.isBuffer(body) || body.length === 0) throw new CatalogError('send the ONNX file as the body with Content-Type: application/octet-stream', 'invalid');
  return body;
}

function sizesOf(value: string | undefined): number[] | undefined {
  if (value === undefined || value === '') return undefined;
  try {
    return parseLadderSizes(value);
  } catch (err) {
    throw new CatalogError((err as Error).message, 'invalid');
  }
}

/** /api/models: base models, their ladders (built off the request path) and imported candidates. */
export function modelsRoutes(catalog: Catalog, ladders: LadderJobs) {
  return async function (app: FastifyInstance): Promise<void> {
    app.addContentTypeParser('application/octet-stream', { parseAs: 'buffer', bodyLimit: MAX_MODEL_BYTES }, (_request, body, done) => done(null, body));

    const summary = (id: string) => {
      const model = catalog.requireModel(id);
      const jobs = catalog.jobs(id);
      return { ...model, candidates: catalog.candidates(id).length, ladder: jobs[jobs.length - 1] ?? null };
    };

    app.get('/api/models', async () => ({ models: catalog.listModels().map((m) => summary(m.id)) }));

    app.get<{ Params: { id: string } }>('/api/models/:id', async (request) => ({ ...summary(request.params.id), jobs: catalog.jobs(request.params.id), ladderCandidates: catalog.candidates(request.params.id) }));

    app.post<{ Querystring: { name?: string; ladder?: string; sizes?: string; calib?: string; eval?: string; build?: string } }>('/api/models', async (request, reply) => {
      const q = request.query;
      if (!q.name) throw new CatalogError('name the model: POST /api/models?name=<name>', 'invalid');
      const model = await catalog.addModel(modelBytes(request.body), q.name);
      if (q.build === 'false') return reply.code(201).send({ model: summary(model.id), job: null });
      const job = ladders.start(model.id, { ladder: q.ladder ?? 'default', ...(sizesOf(q.sizes) ? { sizes: sizesOf(q.sizes) } : {}), ...(q.calib ? { calibDir: q.calib } : {}), ...(q.eval ? { evalDir: q.eval } : {}) });
      return reply.code(202).send({ model: summary(model.id), job });
    });

    app.get<{ Params: { id: string } }>('/api/models/:id/candidates', async (request) => ({ candidates: catalog.candidates(request.params.id) }));

    app.post<{ Params: { id: string }; Querystring: { method?: string; declaredMap5095?: string; source?: string; name?: string } }>('/api/models/:id/candidates', async (request, reply) => {
      const q = request.query;
      if (!q.method) throw new CatalogError('give the method that made the candidate: ?method=NAME', 'invalid');
      // Number('') is 0: an empty value would file the candidate as declaring mAP 0.
      const declared = typeof q.declaredMap5095 === 'string' && q.declaredMap5095.trim() !== '' ? Number(q.declaredMap5095) : NaN;
      if (!Number.isFinite(declared)) throw new CatalogError('give its declared mAP50-95: ?declaredMap5095=0.31', 'invalid');
      const candidate = await catalog.importCandidate(request.params.id, modelBytes(request.body), { method: q.method, declaredMap5095: declared, ...(q.source ? { source: q.source } : {}), ...(q.name ? { name: q.name } : {}) });
      return reply.code(201).send(candidate);
    });

    app.get<{ Params: { id: string } }>('/api/ladder-jobs/:id', async (request) => {
      const job = catalog.getJob(request.params.id);
      if (!job) throw new CatalogError(`no ladder job '${request.params.id}'`, 'not-found');
      return job;
    });
  };
}
