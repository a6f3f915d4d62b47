import type { ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import type { LiveHub } from '../live/hub.js';

/** A client this far behind is cut off; its EventSource reconnects and starts from a fresh snapshot. */
const MAX_BUFFERED_BYTES = 8 * 1024 * 1024;
/** Comment lines keep proxies and the browser from timing out an idle stream. */
const KEEPALIVE_MS = 15_000;

/** One Server-Sent Events frame; JSON never contains a raw newline, so one data line suffices. */
export function sseFrame(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

/**
 * GET /api/events: the dashboard's live stream (admin token as ?token=, since
 * EventSource cannot send headers). A `snapshot` event first, then one
 * `devices` event per hub flush, serialized once for all clients.
 * GET /api/live/devices/:id/history: FPS and temperature over the last 30 minutes.
 * GET /api/live/session: 200 when the token is good.
 */
export function eventsRoutes(hub: LiveHub) {
  return async function (app: FastifyInstance): Promise<void> {
    const clients = new Set<ServerResponse>();

    const unsubscribe = hub.subscribe((batch) => {
      if (clients.size === 0) return;
      const frame = sseFrame('devices', batch);
      for (const res of clients) {
        if (res.writableLength > MAX_BUFFERED_BYTES) {
          clients.delete(res);
          res.destroy();
          continue;
        }
        res.write(frame);
      }
    });

    // Open streams would hold app.close() forever: end them before the server stops.
    app.addHook('preClose', async () => {
      unsubscribe();
      for (const res of clients) res.end();
      clients.clear();
    });

    app.get('/api/events', (request, reply) => {
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
      res.write(`retry: 2000\n\n`);
      res.write(sseFrame('snapshot', hub.snapshot()));
      clients.add(res);
      const keepalive = setInterval(() => res.write(': keepalive\n\n'), KEEPALIVE_MS);
      keepalive.unref();
      request.raw.on('close', () => {
        clearInterval(keepalive);
        clients.delete(res);
      });
    });

    // Lets the dashboard tell a wrong token from a dropped stream (EventSource hides the status code).
    app.get('/api/live/session', async () => ({ ok: true }));

    app.get<{ Params: { id: string } }>('/api/live/devices/:id/history', async (request, reply) => {
      const history = hub.history(request.params.id);
      if (!history) return reply.code(404).send({ error: 'not-found', message: `no device '${request.params.id}'` });
      return history;
    });
  };
}
