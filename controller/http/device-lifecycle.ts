import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { DeviceLifecycle } from '../device-lifecycle.js';
import { errorResponses, idParams, Millis } from './schemas.js';

// A device's removal and token rotation (controller/device-lifecycle.ts). A
// broker that did not confirm the change is answered 503 with the reason
// (validate.ts); an unknown device 404.

const DeviceParams = idParams('id', 'the device id');
const BrokerMode = z.string().describe("the broker path: 'embedded', 'files' or 'dynsec'");

/** RotateResult in controller/device-lifecycle.ts. */
const Rotated = z
  .looseObject({
    id: z.string(),
    token: z.string().describe('the new token, shown only now'),
    broker: BrokerMode,
    disconnected: z.boolean().describe('sessions the broker ended: they held the old token'),
    note: z.string().optional(),
  })
  .describe('The new token; the old one is refused from now on');

/** RemoveResult in controller/device-lifecycle.ts. */
const Removed = z
  .looseObject({
    id: z.string(),
    removedAt: Millis,
    again: z.boolean().describe('it was removed before: this call only repeated the broker and retained steps'),
    broker: BrokerMode,
    revoked: z.boolean().describe('whether the broker confirmed its credentials gone'),
    retainedCleared: z.array(z.string()).describe('retained topics emptied'),
    note: z.string().optional(),
  })
  .describe('The device is removed; its history is kept, marked removed');

export function deviceLifecycleRoutes(lifecycle: DeviceLifecycle) {
  return async function (app: FastifyInstance): Promise<void> {
    app.post<{ Params: { id: string } }>(
      '/api/devices/:id/token',
      { schema: { summary: 'Issue a device a new token (the old one stops working)', tags: ['devices'], params: DeviceParams, response: { 200: Rotated, ...errorResponses } } },
      async (request) => lifecycle.rotateToken(request.params.id),
    );

    app.delete<{ Params: { id: string } }>(
      '/api/devices/:id',
      { schema: { summary: 'Remove a device: credentials revoked, retained topics cleared', tags: ['devices'], params: DeviceParams, response: { 200: Removed, ...errorResponses } } },
      async (request) => lifecycle.remove(request.params.id),
    );
  };
}
