import type { FastifyInstance } from 'fastify';
import type { DeviceOutputs } from '../live/device-outputs.js';
import type { Registry } from '../registry.js';

/**
 * A device's latest detections record (JSON) and annotated snapshot (JPEG),
 * behind the admin token like every /api route. The snapshot carries an ETag:
 * the dashboard asks again every few seconds and gets 304 until a new one came.
 */
export function deviceOutputsRoutes(registry: Registry, outputs: DeviceOutputs) {
  return async function (app: FastifyInstance): Promise<void> {
    app.get<{ Params: { id: string } }>('/api/devices/:id/detections', async (request, reply) => {
      const { id } = request.params;
      if (!registry.get(id)) return reply.code(404).send({ error: 'not-found', message: `no device '${id}'` });
      const record = outputs.latestDetections(id);
      if (!record) return reply.code(404).send({ error: 'not-found', message: `device '${id}' has published no detections (the agent's --publish-detections is off by default)` });
      return record;
    });

    app.get<{ Params: { id: string } }>('/api/devices/:id/snapshot', async (request, reply) => {
      const { id } = request.params;
      if (!registry.get(id)) return reply.code(404).send({ error: 'not-found', message: `no device '${id}'` });
      const snapshot = outputs.latestSnapshot(id);
      if (!snapshot) return reply.code(404).send({ error: 'not-found', message: `device '${id}' has sent no snapshot yet (it sends one every --snapshot-every seconds while a model serves)` });
      const etag = `"${snapshot.meta.sha256.slice(0, 12)}-${snapshot.meta.seq}-${snapshot.meta.ts}"`;
      const m = snapshot.meta;
      reply.header('etag', etag).header('cache-control', 'no-cache');
      // JSON with everything outside printable ASCII escaped: a header may carry nothing else, and the candidate id is the device's text
      const meta = JSON.stringify({ ts: m.ts, candidateId: m.candidateId, sha256: m.sha256, seq: m.seq, boxes: m.boxes, frame: m.frame, image: m.image });
      reply.header('x-edgefit-snapshot', meta.replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`));
      if (request.headers['if-none-match'] === etag) return reply.code(304).send();
      return reply.type('image/jpeg').send(snapshot.jpeg);
    });
  };
}
