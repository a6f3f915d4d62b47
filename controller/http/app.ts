import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { ArtifactStore } from '../artifacts/store.js';
import type { SigningKey } from '../artifacts/signing.js';
import { LiveHub } from '../live/hub.js';
import type { LiveStateStore, ProfileStore } from '../profiles.js';
import type { Registry } from '../registry.js';
import { artifactsRoutes } from './artifacts.js';
import { requireAdminToken } from './auth.js';
import { dashboardRoutes } from './dashboard.js';
import { devicesRoutes } from './devices.js';
import { eventsRoutes } from './events.js';
import { errorHandler } from './validate.js';

export interface AppDeps {
  registry: Registry;
  artifacts: ArtifactStore;
  signingKey: SigningKey;
  profiles: ProfileStore;
  live: LiveStateStore;
  adminToken: string;
  log: Logger;
}

export function buildApp(deps: AppDeps): FastifyInstance {
  const app: FastifyInstance = Fastify({
    // Per-request logs would drown the fleet's own events: HTTP logs warnings and errors only.
    loggerInstance: deps.log.child({ component: 'http' }, { level: 'warn' }) as FastifyBaseLogger,
    bodyLimit: 1024 * 1024,
  });
  requireAdminToken(app, deps.adminToken);
  errorHandler(app);
  app.get('/healthz', async () => ({ ok: true }));
  app.register(devicesRoutes(deps.registry, deps));
  app.register(artifactsRoutes({ store: deps.artifacts, registry: deps.registry, key: deps.signingKey }));
  const liveHub = new LiveHub({ registry: deps.registry, serving: deps.live });
  app.addHook('onClose', async () => liveHub.close());
  app.register(eventsRoutes(liveHub));
  app.register(dashboardRoutes());
  return app;
}
