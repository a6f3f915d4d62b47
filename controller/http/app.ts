import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Registry } from '../registry.js';
import { requireAdminToken } from './auth.js';
import { devicesRoutes } from './devices.js';
import { errorHandler } from './validate.js';

export interface AppDeps {
  registry: Registry;
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
  app.register(devicesRoutes(deps.registry));
  return app;
}
