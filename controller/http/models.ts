import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { CatalogError, type Catalog } from '../catalog/catalog.js';
import type { LadderJobs } from '../catalog/ladder-jobs.js';
import { LADDER_NAMES, parseLadderSizes } from '../catalog/ladder-options.js';
import { ACCURACY_KINDS } from '../policy.js';
import { bytesBody, errorResponses, idParams, Millis } from './schemas.js';
import { problemOnly, zodValidator } from './validate.js';

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

const NAME_MODEL = 'name the model: POST /api/models?name=<name>';
const GIVE_METHOD = 'give the method that made the candidate: ?method=NAME';
const GIVE_DECLARED = 'give its declared mAP50-95: ?declaredMap5095=0.31';

const AddModelQuery = z.object({
  name: z.string({ error: NAME_MODEL }).min(1, NAME_MODEL).describe('the model name (a rollout spec may name the model by it)'),
  ladder: z.string().optional().describe(`the ladder to build: ${LADDER_NAMES.join(' or ')} (default: default)`),
  sizes: z.string().optional().describe('input sizes, comma-separated multiples of 32 from 32 to 4096 (e.g. 640,512)'),
  calib: z.string().optional().describe('a folder of calibration images on the controller'),
  eval: z.string().optional().describe('a folder of labelled images on the controller to measure mAP on'),
  build: z.string().optional().describe("'false' registers the model without building its ladder"),
  class: z.string().min(1).optional().describe("with ladder=searched: search on this device class's latency predictor (its operator profiles) instead of this machine"),
});

const ImportQuery = z.object({
  method: z.string({ error: GIVE_METHOD }).min(1, GIVE_METHOD).describe('how the candidate was made (e.g. torch-pruning+finetune)'),
  // Number('') is 0: an empty value would file the candidate as declaring mAP 0.
  declaredMap5095: z
    .string({ error: GIVE_DECLARED })
    .refine((v) => v.trim() !== '' && Number.isFinite(Number(v)), GIVE_DECLARED)
    .describe('its declared COCO mAP50-95, 0-1 (shown as declared, never as measured)'),
  source: z.string().optional().describe('where the declared figure comes from (paper, model card, …)'),
  name: z.string().optional().describe('its name in the ladder'),
});

/** Query checks answer as catalog errors always did: { error: 'invalid', message } with the sentence alone. */
const catalogValidator = zodValidator(problemOnly((message) => new CatalogError(message, 'invalid')));

const ModelParams = idParams('id', 'the model id (or its name)');

const LadderJob = z
  .looseObject({
    id: z.string(),
    modelId: z.string(),
    state: z.enum(['queued', 'running', 'done', 'failed']),
    options: z.looseObject({ ladder: z.string(), sizes: z.array(z.number()).optional(), calibDir: z.string().optional(), evalDir: z.string().optional() }),
    done: z.number().int().describe('candidates built so far'),
    total: z.number().int(),
    message: z.string().nullable().describe('the step it is on'),
    error: z.string().nullable(),
    createdAt: Millis,
    updatedAt: Millis,
  })
  .describe('A ladder build');

const BaseModel = {
  id: z.string(),
  name: z.string(),
  sha256: z.string(),
  synthetic: z.boolean().describe('builder-made weights: good for latency, never shown as accurate'),
  imgsz: z.number().int(),
  parameters: z.number(),
  flops: z.number(),
  format: z.string(),
  createdAt: Millis,
};

const ModelSummary = z
  .looseObject({ ...BaseModel, candidates: z.number().int().describe('candidates in its ladder'), ladder: LadderJob.nullable().describe('its latest ladder build') })
  .describe('A base model');

const Candidate = z
  .looseObject({
    id: z.string(),
    name: z.string(),
    modelId: z.string(),
    method: z.string(),
    family: z.string().describe('precision family: fp32, fp16, int8'),
    flops: z.number(),
    sizeBytes: z.number().int(),
    parameters: z.number(),
    imgsz: z.number().int(),
    accuracy: z.looseObject({ value: z.number().nullable(), kind: z.enum(ACCURACY_KINDS) }).describe('always labelled by where the figure comes from'),
    recipe: z.looseObject({}).nullable().describe('the compression steps that made it; null for an imported one'),
    sha256: z.string(),
    synthetic: z.boolean(),
    source: z.string().nullable(),
    createdAt: Millis,
  })
  .describe('A candidate of a ladder');

const ModelDetail = z
  .looseObject({ ...ModelSummary.shape, jobs: z.array(LadderJob), ladderCandidates: z.array(Candidate) })
  .describe('A base model with its ladder builds and candidates');

/** /api/models: base models, their ladders (built off the request path) and imported candidates. */
export function modelsRoutes(catalog: Catalog, ladders: LadderJobs) {
  return async function (app: FastifyInstance): Promise<void> {
    app.addContentTypeParser('application/octet-stream', { parseAs: 'buffer', bodyLimit: MAX_MODEL_BYTES }, (_request, body, done) => done(null, body));

    const summary = (id: string) => {
      const model = catalog.requireModel(id);
      const jobs = catalog.jobs(id);
      return { ...model, candidates: catalog.candidates(id).length, ladder: jobs[jobs.length - 1] ?? null };
    };

    app.get(
      '/api/models',
      { schema: { summary: 'List base models', tags: ['models'], response: { 200: z.looseObject({ models: z.array(ModelSummary) }).describe('Every base model'), ...errorResponses } } },
      async () => ({ models: catalog.listModels().map((m) => summary(m.id)) }),
    );

    app.get<{ Params: { id: string } }>(
      '/api/models/:id',
      { schema: { summary: 'One base model with its ladder', tags: ['models'], params: ModelParams, response: { 200: ModelDetail, ...errorResponses } } },
      async (request) => ({ ...summary(request.params.id), jobs: catalog.jobs(request.params.id), ladderCandidates: catalog.candidates(request.params.id) }),
    );

    app.post<{ Querystring: z.output<typeof AddModelQuery> }>(
      '/api/models',
      {
        validatorCompiler: catalogValidator,
        schema: {
          summary: 'Add a base model (an ONNX file) and build its ladder',
          description: 'The ladder builds in the background: follow GET /api/ladder-jobs/{id}.',
          tags: ['models'],
          querystring: AddModelQuery,
          body: bytesBody(`the ONNX file, as Content-Type: application/octet-stream (at most ${MAX_MODEL_BYTES} bytes)`),
          response: {
            201: z.looseObject({ model: ModelSummary, job: z.null() }).describe('Added, no ladder asked for (build=false)'),
            202: z.looseObject({ model: ModelSummary, job: LadderJob }).describe('Added; its ladder is building'),
            ...errorResponses,
          },
        },
      },
      async (request, reply) => {
        const q = request.query;
        const model = await catalog.addModel(modelBytes(request.body), q.name);
        if (q.build === 'false') return reply.code(201).send({ model: summary(model.id), job: null });
        const job = ladders.start(model.id, { ladder: q.ladder ?? 'default', ...(sizesOf(q.sizes) ? { sizes: sizesOf(q.sizes) } : {}), ...(q.calib ? { calibDir: q.calib } : {}), ...(q.eval ? { evalDir: q.eval } : {}), ...(q.class ? { deviceClass: q.class } : {}) });
        return reply.code(202).send({ model: summary(model.id), job });
      },
    );

    app.get<{ Params: { id: string } }>(
      '/api/models/:id/candidates',
      { schema: { summary: "A base model's candidates", tags: ['models'], params: ModelParams, response: { 200: z.looseObject({ candidates: z.array(Candidate) }).describe('Its ladder'), ...errorResponses } } },
      async (request) => ({ candidates: catalog.candidates(request.params.id) }),
    );

    app.post<{ Params: { id: string }; Querystring: z.output<typeof ImportQuery> }>(
      '/api/models/:id/candidates',
      {
        validatorCompiler: catalogValidator,
        schema: {
          summary: 'Import a candidate made elsewhere',
          description: 'Shown with its declared accuracy until profiles and checks measure it.',
          tags: ['models'],
          params: ModelParams,
          querystring: ImportQuery,
          body: bytesBody('the ONNX file, as Content-Type: application/octet-stream'),
          response: { 201: Candidate, ...errorResponses },
        },
      },
      async (request, reply) => {
        const q = request.query;
        const candidate = await catalog.importCandidate(request.params.id, modelBytes(request.body), { method: q.method, declaredMap5095: Number(q.declaredMap5095), ...(q.source ? { source: q.source } : {}), ...(q.name ? { name: q.name } : {}) });
        return reply.code(201).send(candidate);
      },
    );

    app.get<{ Params: { id: string } }>(
      '/api/ladder-jobs/:id',
      { schema: { summary: 'A ladder build', tags: ['models'], params: idParams('id', 'the ladder job id'), response: { 200: LadderJob, ...errorResponses } } },
      async (request) => {
        const job = catalog.getJob(request.params.id);
        if (!job) throw new CatalogError(`no ladder job '${request.params.id}'`, 'not-found');
        return job;
      },
    );
  };
}
