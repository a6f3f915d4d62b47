import type { IncomingMessage, ServerResponse } from 'node:http';
import type { DetectionsBus } from './bus.js';

export interface SseOptions {
  /** Bytes a reader may owe before it is dropped; default 256 KiB (a few seconds of records at camera rates). */
  maxQueuedBytes?: number;
  /** A comment line this often keeps proxies from closing an idle stream and finds dead readers; default 15 s. */
  keepAliveMs?: number;
}

export interface SseHandler {
  (req: IncomingMessage, res: ServerResponse): void;
  /** Readers connected now. */
  readonly readers: number;
  /** Readers dropped for not keeping up, since the handler was made. */
  readonly dropped: number;
  /** Ends every stream (the agent stops; the bus closing does the same). */
  close(): void;
}

/**
 * A plain node:http handler streaming every served frame's detections record
 * as Server-Sent Events (`event: detections`, the record as JSON in `data`),
 * mounted by the agent's local API at GET /v1/detections. Each record is
 * serialised once for all readers; the bus is listened to only while someone
 * reads. A reader that does not keep up is dropped (its socket closed), never
 * buffered for without end; the streams end when the agent stops.
 */
export function detectionsSse(bus: DetectionsBus, options: SseOptions = {}): SseHandler {
  const maxQueued = options.maxQueuedBytes ?? 256 * 1024;
  const readers = new Set<ServerResponse>();
  let dropped = 0;
  let closed = false;
  let unlisten: (() => void) | null = null;

  const send = (chunk: string) => {
    for (const res of readers) {
      if (res.writableLength > maxQueued) {
        dropped++;
        readers.delete(res);
        res.destroy();
        continue;
      }
      res.write(chunk);
    }
    stopListening();
  };
  const keepAlive = setInterval(() => send(': keep-alive\n\n'), options.keepAliveMs ?? 15_000);
  keepAlive.unref();

  const stopListening = () => {
    if (readers.size > 0 || !unlisten) return;
    unlisten();
    unlisten = null;
  };
  const close = () => {
    if (closed) return;
    closed = true;
    clearInterval(keepAlive);
    for (const res of readers) res.end();
    readers.clear();
    stopListening();
  };
  bus.onClose(close);

  const handler = ((req: IncomingMessage, res: ServerResponse) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET', 'content-type': 'text/plain' }).end('GET only\n');
      return;
    }
    if (closed) {
      res.writeHead(503, { 'content-type': 'text/plain' }).end('the agent is stopping\n');
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    res.write(': edgefit detections\n\n');
    readers.add(res);
    unlisten ??= bus.listen(({ record }) => send(`event: detections\ndata: ${JSON.stringify(record)}\n\n`));
    res.on('close', () => {
      readers.delete(res);
      stopListening();
    });
  }) as SseHandler;
  Object.defineProperties(handler, {
    readers: { get: () => readers.size },
    dropped: { get: () => dropped },
    close: { value: close },
  });
  return handler;
}
