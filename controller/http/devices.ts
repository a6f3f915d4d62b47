import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { LiveStateStore, ProfileStore } from '../profiles.js';
import { LABEL_KEY_PATTERN, MAX_LABEL_VALUE, MAX_LABELS, type Registry } from '../registry.js';
import { DevicePageQuery, toPage } from './device-page.js';
import { parseBody } from './validate.js';
import { EdgefitError } from '../../protocol/errors.js';

// Bounded before anything is stored: a request's labels are at most what a device may hold (the registry's bounds).
const labelKey = z.string().regex(LABEL_KEY_PATTERN, 'label keys are 1-63 letters, digits, _ . / or -, starting with a letter or digit');
const atMostLabels = (l: Record<string, unknown>) => Object.keys(l).length <= MAX_LABELS;
const tooMany = `a device has at most ${MAX_LABELS} labels`;

const AddDevice = z.object({
  id: z.string(),
  labels: z.record(labelKey, z.string().max(MAX_LABEL_VALUE)).refine(atMostLabels, tooMany).optional(),
});

const SetLabels = z.object({
  /** null removes the label. */
  labels: z.record(labelKey, z.string().max(MAX_LABEL_VALUE).nullable()).refine(atMostLabels, tooMany),
});

const ProfilesQuery = z.object({ limit: z.coerce.number().int().min(1).max(1000).default(100) });

export function devicesRoutes(registry: Registry, fleet: { profiles: ProfileStore; live: LiveStateStore }) {
  return async function (app: FastifyInstance): Promise<void> {
    // Paged (device-page.ts): { devices, next, total }; a client follows `next` as `after` until it is null.
    app.get('/api/devices', async (request) => {
      const { limit, after } = parseBody(DevicePageQuery, request.query);
      return { ...toPage(registry.listAfter(after, limit + 1), limit), total: registry.count() };
    });

    app.get<{ Params: { id: string } }>('/api/devices/:id', async (request) => {
      const device = registry.get(request.params.id);
      if (!device) throw new EdgefitError('E_DEVICE_UNKNOWN', { id: request.params.id });
      return { ...device, ...fleet.live.get(device.id) };
    });

    app.get<{ Params: { id: string } }>('/api/devices/:id/profiles', async (request) => {
      if (!registry.get(request.params.id)) throw new EdgefitError('E_DEVICE_UNKNOWN', { id: request.params.id });
      const { limit } = parseBody(ProfilesQuery, request.query);
      return { profiles: fleet.profiles.forDevice(request.params.id, limit) };
    });

    app.post('/api/devices', async (request, reply) => {
      const body = parseBody(AddDevice, request.body);
      const token = registry.add(body.id, body.labels);
      return reply.code(201).send({ device: registry.get(body.id), token });
    });

    app.post<{ Params: { id: string } }>('/api/devices/:id/labels', async (request) => {
      const body = parseBody(SetLabels, request.body);
      let device = registry.get(request.params.id);
      if (!device) throw new EdgefitError('E_DEVICE_UNKNOWN', { id: request.params.id });
      for (const [key, value] of Object.entries(body.labels)) device = registry.setLabel(request.params.id, key, value);
      return device;
    });

    app.post<{ Params: { id: string } }>('/api/devices/:id/token', async (request) => ({ token: registry.rotateToken(request.params.id) }));

    app.delete<{ Params: { id: string } }>('/api/devices/:id', async (request, reply) => {
      registry.remove(request.params.id);
      fleet.live.outputs.forget(request.params.id);
      return reply.code(204).send();
    });
  };
}
