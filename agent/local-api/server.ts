import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { firstIssue } from '../../protocol/first-issue.js';
import { AppReport, type AppReports } from './app-reports.js';
import type { DetectionsBus } from '../outputs/bus.js';
import { detectionsSse, type SseHandler } from '../outputs/sse.js';

/** The default --local-port: free on stock Jetson and Raspberry Pi OS images (0 turns the API off). */
export const DEFAULT_LOCAL_PORT = 8788;
/** An app report is a few numbers: anything near this is not one. */
const BODY_LIMIT = 4096;

export interface LocalApiDeps {
  reports: AppReports;
  log: Logger;
  /** The served frames' detections, streamed at GET /v1/detections; absent: no such route. */
  detections?: DetectionsBus;
}

export interface LocalApi {
  port: number;
  close(): Promise<void>;
}

/**
 * Every route of the local API, in one place: an application on the same
 * device talks to the agent here. Returns the SSE handler, whose streams
 * must end before the server can close.
 */
function mountRoutes(app: FastifyInstance, deps: LocalApiDeps): SseHandler | null {
  app.post('/v1/app-report', async (request, reply) => {
    const parsed = AppReport.safeParse(request.body);
    if (!parsed.success) return reply.code(400).send({ error: firstIssue(parsed.error, 'report') });
    deps.reports.add(parsed.data);
    return reply.code(204).send();
  });
  if (!deps.detections) return null;
  const sse = detectionsSse(deps.detections);
  app.get('/v1/detections', (request, reply) => {
    // the stream is node:http's from here on (agent/outputs/sse.ts)
    reply.hijack();
    sse(request.raw, reply.raw);
  });
  return sse;
}

/**
 * The agent's HTTP API for applications on the same device, on 127.0.0.1
 * only: nothing off the device can reach it. Bad input is answered with one
 * line (`{ "error": ... }`) and never stops the agent.
 */
export async function startLocalApi(port: number, deps: LocalApiDeps): Promise<LocalApi> {
  const app = Fastify({ bodyLimit: BODY_LIMIT, logger: false });
  app.setErrorHandler((err: FastifyError, _request, reply) => {
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    if (status === 500) deps.log.error({ err: err.message }, 'local api request failed');
    // fastify's own lines (bad JSON, too large, wrong content type) are one line already
    return reply.code(status).send({ error: status === 500 ? 'internal error' : err.message.split('\n')[0] });
  });
  app.setNotFoundHandler((request, reply) => reply.code(404).send({ error: `no route ${request.method} ${request.url.split('?')[0]}` }));
  const sse = mountRoutes(app, deps);
  await app.listen({ host: '127.0.0.1', port });
  const address = app.server.address();
  const bound = typeof address === 'object' && address ? address.port : port;
  deps.log.info({ url: `http://127.0.0.1:${bound}` }, 'local api listening');
  return {
    port: bound,
    close: async () => {
      sse?.close();
      await app.close();
    },
  };
}
