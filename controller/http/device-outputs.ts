import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { DetectionsMessage } from '../../protocol/messages.js';
import type { DeviceOutputs } from '../live/device-outputs.js';
import type { Registry } from '../registry.js';
import { errorResponses, idParams, mediaResponse } from './schemas.js';

const DeviceParams = idParams('id', 'the device id');
import { EdgefitError } from '../../protocol/errors.js';

/**
 * A device's latest detections record (JSON) and annotated snapshot (JPEG),
 * behind the admin token like every /api route. The snapshot carries an ETag:
 * the dashboard asks again every few seconds and gets 304 until a new one came.
 */
export function deviceOutputsRoutes(registry: Registry, outputs: DeviceOutputs) {
  return async function (app: FastifyInstance): Promise<void> {
    app.get<{ Params: { id: string } }>(
      '/api/devices/:id/detections',
      {
        schema: {
          summary: "A device's latest detections record",
          tags: ['devices'],
          params: DeviceParams,
          // The record as the device sent it over MQTT, validated by the same schema on the way in.
          response: { 200: DetectionsMessage.describe('What the serving model found on one frame'), ...errorResponses },
        },
      },
      async (request, reply) => {
        const { id } = request.params;
        if (!registry.get(id)) throw new EdgefitError('E_DEVICE_UNKNOWN', { id });
        const record = outputs.latestDetections(id);
        if (!record) throw new EdgefitError('E_DETECTIONS_NONE', { id });
        return record;
      },
    );

    app.get<{ Params: { id: string } }>(
      '/api/devices/:id/snapshot',
      {
        schema: {
          summary: "A device's latest annotated snapshot",
          description: 'JPEG with its boxes drawn on; the x-edgefit-snapshot header holds its metadata as JSON. Send If-None-Match with the ETag: 304 until a newer one came.',
          tags: ['devices'],
          params: DeviceParams,
          response: { 200: mediaResponse('The JPEG', 'image/jpeg'), 304: z.undefined().describe('Not modified: still the snapshot of that ETag'), ...errorResponses },
        },
      },
      async (request, reply) => {
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
      },
    );
  };
}
