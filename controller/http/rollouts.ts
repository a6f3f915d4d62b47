import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { firstIssue } from '../../protocol/first-issue.js';
import type { RolloutEngine } from '../rollout/engine.js';
import { RolloutSpec, SpecError } from '../rollout/spec.js';
import { DEVICE_STATES, ROLLOUT_STATES } from '../rollout/states.js';
import { rolloutStatus, type StatusDeps } from '../rollout/status.js';
import { errorResponses, idParams, Millis } from './schemas.js';
import { zodValidator } from './validate.js';

const RolloutDevice = z.looseObject({
  deviceId: z.string(),
  deviceClass: z.string().nullable(),
  stage: z.number().int(),
  state: z.enum(DEVICE_STATES),
  resumeState: z.enum(DEVICE_STATES).nullable().describe('the state an offline device resumes in'),
  candidateId: z.string().nullable(),
  candidate: z.string().nullable().describe("the chosen candidate's name"),
  ep: z.string().nullable().describe('the execution provider it was chosen on and is served on'),
  explanation: z.string().nullable().describe('why this candidate: the SLO, the evidence, what was passed over'),
  rejected: z.array(z.looseObject({})).describe('every candidate ranked above the choice, with the bound it failed'),
  chosenMetrics: z.looseObject({}).nullable().describe("the chosen candidate's measured metrics"),
  generation: z.number().int().nullable(),
  attempts: z.number().int(),
  error: z.string().nullable(),
  live: z.looseObject({ fps: z.number().nullable(), latencyP95Ms: z.number().nullable(), temperatureC: z.number().nullable(), servingChosen: z.boolean() }).nullable().describe('its serving telemetry now'),
  slo: z.looseObject({}).nullable().describe('the service level it reports serving under'),
});

const RolloutClass = z.looseObject({
  deviceClass: z.string(),
  profiles: z.number().int().describe('profiles the planner asked for'),
  exhaustive: z.number().int().describe('profiles that measuring every candidate on every provider would take'),
  providers: z.array(z.string()),
  measurements: z.array(z.looseObject({ candidate: z.string().nullable(), ep: z.string(), deviceId: z.string(), jobId: z.string(), outcome: z.looseObject({}).nullable() })),
  predictions: z
    .looseObject({
      rows: z.array(z.looseObject({ candidate: z.string().nullable(), ep: z.string(), predictedMs: z.number(), measuredMs: z.number().nullable(), errorPct: z.number().nullable() })),
      mapePct: z.number().nullable(),
      predictorMapePct: z.number().nullable(),
    })
    .describe("the class's latency predictor: predicted before each profile against the measured mean model latency (ms), signed error %, and the MAPE"),
});

const RolloutEvent = z.looseObject({ seq: z.number().int(), deviceId: z.string().nullable(), from: z.string().nullable(), to: z.string(), detail: z.string().nullable(), at: Millis });

/** What GET /api/rollouts/{id} and the event stream's 'rollouts' events carry (controller/rollout/status.ts). */
const RolloutSummary = z
  .looseObject({
    id: z.string(),
    // The spec as stored, defaults filled in: documented loosely, since a rollout created by an older controller keeps its spec.
    spec: z.looseObject({ model: z.string() }).describe('its spec, defaults filled in (see POST /api/rollouts)'),
    state: z.enum(ROLLOUT_STATES),
    stage: z.number().int(),
    reason: z.string().nullable(),
    createdAt: Millis,
    updatedAt: Millis,
    devices: z.array(RolloutDevice),
    classes: z.array(RolloutClass).describe('per device class: profiles asked for against exhaustive profiling'),
    events: z.array(RolloutEvent).describe('its latest transitions (none in the list)'),
  })
  .describe('A rollout with every device, its choice and the explanation');

const RolloutParams = idParams('id', 'the rollout id');

/** A spec that fails validation reads as `edgefit rollout create` has always shown it: 'rollout spec <path>: <problem>'. */
const specValidator = zodValidator((error) => new SpecError(`rollout spec ${firstIssue(error)}`));

/** /api/rollouts: create from a spec (JSON), status with every device's choice and explanation, pause/resume/abort. */
export function rolloutsRoutes(engine: RolloutEngine, deps: StatusDeps) {
  return async function (app: FastifyInstance): Promise<void> {
    app.get(
      '/api/rollouts',
      { schema: { summary: 'List rollouts', tags: ['rollouts'], response: { 200: z.looseObject({ rollouts: z.array(RolloutSummary) }).describe('Every rollout, without events'), ...errorResponses } } },
      async () => ({ rollouts: deps.store.list().map((r) => rolloutStatus(deps, r.id, { events: 0 })) }),
    );

    app.post<{ Body: z.output<typeof RolloutSpec> }>(
      '/api/rollouts',
      {
        validatorCompiler: specValidator,
        schema: {
          summary: 'Start a rollout',
          description: 'The spec as JSON (deploy/examples/rollout.yaml shows one in YAML): the model, the SLO, targets, stages, rate, abort rule, providers.',
          tags: ['rollouts'],
          body: RolloutSpec,
          response: { 201: RolloutSummary, ...errorResponses },
        },
      },
      async (request, reply) => {
        const rollout = engine.create(request.body);
        return reply.code(201).send(rolloutStatus(deps, rollout.id));
      },
    );

    app.get<{ Params: { id: string } }>(
      '/api/rollouts/:id',
      { schema: { summary: 'One rollout', tags: ['rollouts'], params: RolloutParams, response: { 200: RolloutSummary, ...errorResponses } } },
      async (request) => rolloutStatus(deps, request.params.id),
    );

    for (const action of ['pause', 'resume', 'abort'] as const) {
      app.post<{ Params: { id: string } }>(
        `/api/rollouts/:id/${action}`,
        { schema: { summary: `${action[0].toUpperCase()}${action.slice(1)} a rollout`, tags: ['rollouts'], params: RolloutParams, response: { 200: RolloutSummary, ...errorResponses } } },
        async (request) => {
          engine[action](request.params.id);
          return rolloutStatus(deps, request.params.id);
        },
      );
    }
  };
}
