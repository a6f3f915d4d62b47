import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
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
import { devicesRoutes } from './devices.js';
import { deviceOutputsRoutes } from './device-outputs.js';
import { eventsRoutes } from './events.js';
import type { ControllerMetrics } from '../metrics/metrics.js';
import { metricsRoutes } from './metrics.js';
import { modelsRoutes } from './models.js';
import { rolloutsRoutes } from './rollouts.js';
import { errorHandler } from './validate.js';

export interface AppDeps {
  registry: Registry;
  artifacts: ArtifactStore;
  signingKey: SigningKey;
  profiles: ProfileStore;
  live: LiveStateStore;
  adminToken: string;
  log: Logger;
  /** Model catalog, ladder builds and rollouts (/api/models, /api/rollouts). */
  fleet?: { catalog: Catalog; ladders: LadderJobs; rollouts: RolloutEngine; rolloutStore: RolloutStore };
  /** GET /metrics and the read-only token that scrapes it (controller/metrics/). */
  metrics?: { metrics: ControllerMetrics; token: string };
  /** Serve https with this certificate (chain) and key. Client certificates are not asked for here: browsers and the CLI use the same port. */
  https?: { certPem: string; keyPem: string };
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
  app.get('/healthz', async () => ({ ok: true }));
  app.register(devicesRoutes(deps.registry, deps));
  app.register(deviceOutputsRoutes(deps.registry, deps.live.outputs));
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
