import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { DeviceLifecycle } from '../device-lifecycle.js';
import { parseBody } from './validate.js';

// A device's removal and token rotation (controller/device-lifecycle.ts). A
// broker that did not confirm the change is answered 503 with the reason
// (validate.ts); an unknown device 404.

const DeviceParams = z.object({ id: z.string().min(1).max(64) });

export function deviceLifecycleRoutes(lifecycle: DeviceLifecycle) {
  return async function (app: FastifyInstance): Promise<void> {
    /** { id, token, broker, disconnected, note? }: the new token, shown this once. */
    app.post('/api/devices/:id/token', async (request) => {
      const { id } = parseBody(DeviceParams, request.params);
      return lifecycle.rotateToken(id);
    });

    /** { id, removedAt, again, broker, revoked, retainedCleared, note? } */
    app.delete('/api/devices/:id', async (request) => {
      const { id } = parseBody(DeviceParams, request.params);
      return lifecycle.remove(id);
    });
  };
}
