import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance } from 'fastify';
import { serializerCompiler } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Logger } from 'pino';
import type { ArtifactStore } from '../artifacts/store.js';
import type { SigningKey } from '../artifacts/signing.js';
import { LiveHub } from '../live/hub.js';
import { RolloutFeed } from '../live/rollout-feed.js';
import type { LiveStateStore, ProfileStore } from '../profiles.js';
import type { Registry } from '../registry.js';
import type { Catalog } from '../catalog/catalog.js';
import type { LadderJobs } from '../catalog/ladder-jobs.js';
import type { RolloutEngine } from '../rollout/engine.js';
import { rolloutStatus, type StatusDeps } from '../rollout/status.js';
import type { RolloutStore } from '../rollout/store.js';
import { artifactsRoutes } from './artifacts.js';
import { requireAdminToken } from './auth.js';
import { dashboardRoutes } from './dashboard.js';
import type { DeviceLifecycle } from '../device-lifecycle.js';
import { deviceLifecycleRoutes } from './device-lifecycle.js';
import { devicesRoutes } from './devices.js';
import { deviceOutputsRoutes } from './device-outputs.js';
import { eventsRoutes } from './events.js';
import type { ControllerMetrics } from '../metrics/metrics.js';
import { metricsRoutes } from './metrics.js';
import { modelsRoutes } from './models.js';
import { openapiDocs } from './openapi.js';
import { opProfilesRoutes } from './op-profiles.js';
import type { OpProfileStore } from '../op-profiles.js';
import type { LatencyPredictions } from '../latency-predictions.js';
import { rolloutsRoutes } from './rollouts.js';
import { zodValidator } from './validate.js';
import { EdgefitError, isCoded } from '../../protocol/errors.js';

export interface AppDeps {
  registry: Registry;
  artifacts: ArtifactStore;
  signingKey: SigningKey;
  profiles: ProfileStore;
  live: LiveStateStore;
  adminToken: string;
  log: Logger;
  /** Adding, rotating and removing devices on the broker path in use (devices add, rotate-token, remove). */
  lifecycle: DeviceLifecycle;
  /** Model catalog, ladder builds and rollouts (/api/models, /api/rollouts). */
  fleet?: { catalog: Catalog; ladders: LadderJobs; rollouts: RolloutEngine; rolloutStore: RolloutStore };
  /** Operator-level profiles per class and provider (/api/op-profiles, issue #21). */
  opProfiles?: OpProfileStore;
  /** The latency predictor's error per class and provider (/api/latency-predictions). */
  latencyPredictions?: LatencyPredictions;
  /** GET /metrics and the read-only token that scrapes it (controller/metrics/). */
  metrics?: { metrics: ControllerMetrics; token: string };
  /** Serve https with this certificate (chain) and key. Client certificates are not asked for here: browsers and the CLI use the same port. */
  https?: { certPem: string; keyPem: string };
}

/**
 * What an error thrown on the request path answers: a coded error as it is;
 * fastify's own refusals (a body that is not JSON, too large, of another
 * content type) by their status; anything else is ours, E_INTERNAL, its text
 * kept out of the answer (it may name files and internals) and in the log.
 */
export function codedAnswer(err: FastifyError | Error): EdgefitError {
  if (isCoded(err)) return err;
  const status = (err as FastifyError).statusCode;
  if (status === 413) return new EdgefitError('E_BODY_TOO_LARGE', { reason: err.message });
  if (status === 415) return new EdgefitError('E_MEDIA_TYPE', { reason: err.message });
  if (status !== undefined && status >= 400 && status < 500) return new EdgefitError('E_BAD_REQUEST', { reason: err.message });
  return new EdgefitError('E_INTERNAL', {});
}

/**
 * The API's one error handler: every error answers its catalogue status with
 * { error: code, message }, the same code and wording the CLI prints and the
 * log carries. Routes throw; none answers an error itself.
 */
export function errorHandler(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError, request, reply) => {
    const coded = codedAnswer(err);
    // 4xx are the caller's and stay out of the log, as answered requests do; 5xx are ours or a dependency's
    if (coded.httpStatus >= 500) request.log.error({ err, code: coded.code }, 'request failed');
    return reply.code(coded.httpStatus).send({ error: coded.code, message: coded.message });
  });
  app.setNotFoundHandler(async (request) => {
    throw new EdgefitError('E_ROUTE_UNKNOWN', { method: request.method, url: request.url });
  });
}

/** How long close() lets responses in flight finish before it cuts their connections. */
const CLOSE_GRACE_MS = 2000;

export function buildApp(deps: AppDeps): FastifyInstance {
  const options = {
    // Per-request logs would drown the fleet's own events: HTTP logs warnings and errors only.
    loggerInstance: deps.log.child({ component: 'http' }, { level: 'warn' }) as FastifyBaseLogger,
    bodyLimit: 1024 * 1024,
  };
  // The routes never look at which server kind carries them; typed apart, every plugin would be written twice.
  const app: FastifyInstance = deps.https
    ? (Fastify({ ...options, https: { cert: deps.https.certPem, key: deps.https.keyPem } }) as unknown as FastifyInstance)
    : Fastify(options);
  // A client that stops reading mid-response (a stalled artifact download) would hold close() until
  // its socket times out, a minute on; an agent resumes a cut download from where it was.
  app.addHook('preClose', async () => {
    setTimeout(() => app.server.closeAllConnections(), CLOSE_GRACE_MS).unref();
  });
  requireAdminToken(app, deps.adminToken);
  errorHandler(app);
  // Routes declare their request and response schemas in zod: the validator answers a bad request with
  // the API's one line, the serializer checks every JSON answer against its documented schema, and the
  // OpenAPI document (GET /api/openapi.json) is generated from the same objects. The check's cost was
  // lost in this shared 2-core machine's noise: GET /api/devices?limit=500 (342 KB), 3 interleaved rounds of
  // 60 requests, p50 47.7 / 62.0 / 56.5 ms checked against 48.6 / 39.9 / 57.2 ms with plain JSON.stringify.
  app.setValidatorCompiler(zodValidator());
  app.setSerializerCompiler(serializerCompiler);
  // Before every route: the swagger plugin learns of routes as they are added. Routes go in plugins
  // (registered after it), never straight on the app.
  openapiDocs(app);
  app.register(async (scope) => {
    scope.get('/healthz', { schema: { summary: 'Whether the controller is up', tags: ['health'], response: { 200: z.looseObject({ ok: z.literal(true) }).describe('It is') } } }, async () => ({ ok: true as const }));
  });
  app.register(devicesRoutes(deps.registry, deps));
  app.register(deviceLifecycleRoutes(deps.lifecycle));
  app.register(deviceOutputsRoutes(deps.registry, deps.live.outputs));
  if (deps.opProfiles) app.register(opProfilesRoutes(deps.opProfiles, deps.latencyPredictions));
  app.register(artifactsRoutes({ store: deps.artifacts, registry: deps.registry, key: deps.signingKey, onBytesServed: deps.metrics?.metrics.counters.artifactBytes }));
  const catalog = deps.fleet?.catalog;
  const liveHub = new LiveHub({ registry: deps.registry, serving: deps.live, candidateName: catalog && ((id) => catalog.getCandidate(id)?.name) });
  const status: StatusDeps | undefined = deps.fleet && { store: deps.fleet.rolloutStore, catalog: deps.fleet.catalog, live: deps.live };
  const rolloutFeed =
    status &&
    new RolloutFeed({
      store: status.store,
      serving: deps.live,
      summarize: (id, events) => (status.store.get(id) ? rolloutStatus(status, id, { events }) : undefined),
    });
  app.addHook('onClose', async () => {
    liveHub.close();
    rolloutFeed?.close();
  });
  app.register(eventsRoutes(liveHub, rolloutFeed));
  if (deps.metrics) {
    // the device gauges read the dashboard's own live view: one set of figures for both
    deps.metrics.metrics.watchFleet(() => liveHub.snapshot());
    app.register(metricsRoutes(deps.metrics.metrics, deps.metrics.token));
  }
  app.register(dashboardRoutes());
  if (deps.fleet && status) {
    app.register(modelsRoutes(deps.fleet.catalog, deps.fleet.ladders));
    app.register(rolloutsRoutes(deps.fleet.rollouts, status));
  }
  return app;
}
