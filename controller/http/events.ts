import type { ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { LiveHub } from '../live/hub.js';
import type { RolloutFeed } from '../live/rollout-feed.js';
import { errorResponses, idParams, mediaResponse } from './schemas.js';
import { EdgefitError } from '../../protocol/errors.js';

/** A client this far behind is cut off; its EventSource reconnects and starts from a fresh snapshot. */
const MAX_BUFFERED_BYTES = 8 * 1024 * 1024;
/** Comment lines keep proxies and the browser from timing out an idle stream. */
const KEEPALIVE_MS = 15_000;

const STREAM = z
  .string()
  .describe(
    "Server-Sent Events. 'snapshot' first ({ serverTime, devices, sparklines }), then 'devices' ({ serverTime, devices }: the rows changed since the last) and 'rollouts' ({ serverTime, rollouts }: summaries as GET /api/rollouts/{id} answers them); comment lines keep it open.",
  );

/** [ms since the epoch, value] */
const Sample = z.tuple([z.number(), z.number()]);

const DeviceHistory = z
  .looseObject({ id: z.string(), fps: z.array(Sample), temperatureC: z.array(Sample) })
  .describe('FPS and temperature samples over the last 30 minutes, oldest first');

/** One Server-Sent Events frame; JSON never contains a raw newline, so one data line suffices. */
export function sseFrame(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

/**
 * GET /api/events: the dashboard's live stream (admin token as ?token=, since
 * EventSource cannot send headers). A `snapshot` event first, then one
 * `devices` event per hub flush and, with a rollout feed, one `rollouts` event
 * per feed flush (the summaries of the rollouts written meanwhile), each
 * serialized once for all clients. Rollouts are not in the snapshot: a page
 * showing them fetches them once it has connected.
 * GET /api/live/devices/:id/history: FPS and temperature over the last 30 minutes.
 * GET /api/live/session: 200 when the token is good.
 */
export function eventsRoutes(hub: LiveHub, rollouts?: RolloutFeed) {
  return async function (app: FastifyInstance): Promise<void> {
    const clients = new Set<ServerResponse>();
    // Summaries cost database reads: the feed is listened to only while someone is connected.
    let rolloutsOff: (() => void) | null = null;

    const broadcast = (event: string, data: unknown) => {
      if (clients.size === 0) return;
      const frame = sseFrame(event, data);
      for (const res of clients) {
        if (res.writableLength > MAX_BUFFERED_BYTES) {
          drop(res);
          res.destroy();
          continue;
        }
        res.write(frame);
      }
    };
    const drop = (res: ServerResponse) => {
      clients.delete(res);
      if (clients.size === 0) {
        rolloutsOff?.();
        rolloutsOff = null;
      }
    };

    const unsubscribe = hub.subscribe((batch) => broadcast('devices', batch));

    // Open streams would hold app.close() forever: end them before the server stops.
    app.addHook('preClose', async () => {
      unsubscribe();
      for (const res of [...clients]) {
        drop(res);
        res.end();
      }
    });

    const streamSchema = {
      summary: "The dashboard's live stream",
      description: 'EventSource cannot set headers: pass the admin token as ?token=.',
      tags: ['live'],
      response: { 200: mediaResponse('The stream', 'text/event-stream', STREAM), ...errorResponses },
    };
    app.get('/api/events', { schema: streamSchema }, (request, reply) => {
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
      if (rollouts && !rolloutsOff) rolloutsOff = rollouts.subscribe((batch) => broadcast('rollouts', batch));
      const keepalive = setInterval(() => res.write(': keepalive\n\n'), KEEPALIVE_MS);
      keepalive.unref();
      request.raw.on('close', () => {
        clearInterval(keepalive);
        drop(res);
      });
    });

    // Lets the dashboard tell a wrong token from a dropped stream (EventSource hides the status code).
    app.get(
      '/api/live/session',
      { schema: { summary: 'Whether the admin token is good', tags: ['live'], response: { 200: z.looseObject({ ok: z.literal(true) }).describe('It is'), ...errorResponses } } },
      async () => ({ ok: true as const }),
    );

    const historySchema = { summary: "A device's FPS and temperature history", tags: ['live'], params: idParams('id', 'the device id'), response: { 200: DeviceHistory, ...errorResponses } };
    app.get<{ Params: { id: string } }>('/api/live/devices/:id/history', { schema: historySchema }, async (request, reply) => {
      const history = hub.history(request.params.id);
      if (!history) throw new EdgefitError('E_DEVICE_UNKNOWN', { id: request.params.id });
      return history;
    });
  };
}
