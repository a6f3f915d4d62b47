import type { FastifyInstance } from 'fastify';
import type { DeviceOutputs } from '../live/device-outputs.js';
import type { Registry } from '../registry.js';
import { EdgefitError } from '../../protocol/errors.js';

/**
 * A device's latest detections record (JSON) and annotated snapshot (JPEG),
 * behind the admin token like every /api route. The snapshot carries an ETag:
 * the dashboard asks again every few seconds and gets 304 until a new one came.
 */
export function deviceOutputsRoutes(registry: Registry, outputs: DeviceOutputs) {
  return async function (app: FastifyInstance): Promise<void> {
    app.get<{ Params: { id: string } }>('/api/devices/:id/detections', async (request) => {
      const { id } = request.params;
      if (!registry.get(id)) throw new EdgefitError('E_DEVICE_UNKNOWN', { id });
      const record = outputs.latestDetections(id);
      if (!record) throw new EdgefitError('E_DETECTIONS_NONE', { id });
      return record;
    });

    app.get<{ Params: { id: string } }>('/api/devices/:id/snapshot', async (request, reply) => {
      const { id } = request.params;
      if (!registry.get(id)) throw new EdgefitError('E_DEVICE_UNKNOWN', { id });
      const snapshot = outputs.latestSnapshot(id);
      if (!snapshot) throw new EdgefitError('E_SNAPSHOT_NONE', { id });
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
