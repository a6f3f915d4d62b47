import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { DeviceLifecycle } from '../device-lifecycle.js';
import type { LiveStateStore, ProfileStore } from '../profiles.js';
import { LABEL_KEY_PATTERN, MAX_LABEL_VALUE, MAX_LABELS, type Registry } from '../registry.js';
import { DevicePageQuery, toPage } from './device-page.js';
import { errorResponses, idParams, Millis } from './schemas.js';
import { EdgefitError } from '../../protocol/errors.js';

// Bounded before anything is stored: a request's labels are at most what a device may hold (the registry's bounds).
const labelKey = z.string().regex(LABEL_KEY_PATTERN, 'label keys are 1-63 letters, digits, _ . / or -, starting with a letter or digit');
const atMostLabels = (l: Record<string, unknown>) => Object.keys(l).length <= MAX_LABELS;
const tooMany = `a device has at most ${MAX_LABELS} labels`;

const AddDevice = z.object({
  id: z.string().describe('the device id: letters, digits, _ . or -, as its agent will use it'),
  labels: z.record(labelKey, z.string().max(MAX_LABEL_VALUE)).refine(atMostLabels, tooMany).optional(),
});

const SetLabels = z.object({
  /** null removes the label. */
  labels: z.record(labelKey, z.string().max(MAX_LABEL_VALUE).nullable()).refine(atMostLabels, tooMany).describe('labels to set; null removes one'),
});

const ProfilesQuery = z.object({ limit: z.coerce.number().int().min(1).max(1000).default(100).describe('at most this many, newest first') });

const DeviceParams = idParams('id', 'the device id');

/** A device as the registry holds it (controller/registry.ts Device). */
const Device = z
  .looseObject({
    id: z.string(),
    createdAt: Millis,
    firstSeen: Millis.nullable(),
    lastSeen: Millis.nullable(),
    online: z.boolean(),
    inventory: z.looseObject({}).nullable().describe("its last hello's hardware and software: arch, CPU, memory, GPUs, execution providers, versions"),
    deviceClass: z.string().nullable().describe('hash of the hardware facts that decide speed; null before its first hello'),
    labels: z.record(z.string(), z.string()),
    heartbeat: z.looseObject({}).nullable().describe('its last heartbeat'),
  })
  .describe('A registered device');

const DeviceDetail = z
  .looseObject({
    ...Device.shape,
    telemetry: z.looseObject({}).nullable().describe('its latest serving telemetry (FPS, latency, temperature); live only, null after a restart until it reports'),
    reported: z.looseObject({}).nullable().describe('its latest reported state (the model it runs)'),
  })
  .describe('A device with its live state');

const DevicePage = z
  .looseObject({
    devices: z.array(Device),
    next: z.string().nullable().describe('pass as ?after= for the next page; null on the last one'),
    total: z.number().int().describe('devices in the registry'),
  })
  .describe('One page of devices in id order');

const StoredProfile = z.looseObject({
  jobId: z.string(),
  deviceId: z.string(),
  artifactSha256: z.string(),
  candidateId: z.string().nullable(),
  ok: z.boolean(),
  error: z.string().nullable(),
  profile: z.looseObject({}).nullable().describe('the measurement: latency statistics, FPS, memory, temperature, provider'),
  check: z.looseObject({}).nullable().describe("the on-device check's verdict; null when the profile carried none"),
  finishedAt: Millis,
  receivedAt: Millis,
});

export function devicesRoutes(registry: Registry, fleet: { profiles: ProfileStore; live: LiveStateStore; lifecycle: DeviceLifecycle }) {
  return async function (app: FastifyInstance): Promise<void> {
    // Paged (device-page.ts): { devices, next, total }; a client follows `next` as `after` until it is null.
    app.get<{ Querystring: z.output<typeof DevicePageQuery> }>(
      '/api/devices',
      { schema: { summary: 'List devices, a page at a time', tags: ['devices'], querystring: DevicePageQuery, response: { 200: DevicePage, ...errorResponses } } },
      async (request) => {
        const { limit, after, removed } = request.query;
        const o = { includeRemoved: removed === 'include' };
        return { ...toPage(registry.listAfter(after, limit + 1, o), limit), total: registry.count(o) };
      },
    );

    app.get<{ Params: { id: string } }>(
      '/api/devices/:id',
      { schema: { summary: 'One device with its live state', tags: ['devices'], params: DeviceParams, response: { 200: DeviceDetail, ...errorResponses } } },
      async (request, reply) => {
        const device = registry.get(request.params.id);
        if (!device) throw new EdgefitError('E_DEVICE_UNKNOWN', { id: request.params.id });
        return { ...device, ...fleet.live.get(device.id) };
      },
    );

    app.get<{ Params: { id: string }; Querystring: z.output<typeof ProfilesQuery> }>(
      '/api/devices/:id/profiles',
      {
        schema: {
          summary: "A device's profiles, newest first",
          tags: ['devices'],
          params: DeviceParams,
          querystring: ProfilesQuery,
          response: { 200: z.looseObject({ profiles: z.array(StoredProfile) }).describe('Profiles of the device'), ...errorResponses },
        },
      },
      async (request, reply) => {
        if (!registry.get(request.params.id)) throw new EdgefitError('E_DEVICE_UNKNOWN', { id: request.params.id });
        return { profiles: fleet.profiles.forDevice(request.params.id, request.query.limit) };
      },
    );

    app.post<{ Body: z.output<typeof AddDevice> }>(
      '/api/devices',
      {
        schema: {
          summary: 'Register a device',
          description: 'Answers its token once: the agent connects with it (MQTT username = id, password = token).',
          tags: ['devices'],
          body: AddDevice,
          response: { 201: z.looseObject({ device: Device, token: z.string().describe('its broker password, shown only now'), note: z.string().optional().describe('what the broker path did, where it is worth saying') }).describe('The device and its token'), ...errorResponses },
        },
      },
      async (request, reply) => {
        const body = request.body;
        // through the lifecycle: on the dynamic-security path the broker takes the device first (device-lifecycle.ts)
        const { token, note } = await fleet.lifecycle.add(body.id, body.labels);
        return reply.code(201).send({ device: registry.get(body.id), token, ...(note ? { note } : {}) });
      },
    );

    app.post<{ Params: { id: string }; Body: z.output<typeof SetLabels> }>(
      '/api/devices/:id/labels',
      { schema: { summary: "Set or remove a device's labels", tags: ['devices'], params: DeviceParams, body: SetLabels, response: { 200: Device, ...errorResponses } } },
      async (request) => {
        const body = request.body;
        let device = registry.get(request.params.id);
        if (!device) throw new EdgefitError('E_DEVICE_UNKNOWN', { id: request.params.id });
        for (const [key, value] of Object.entries(body.labels)) device = registry.setLabel(request.params.id, key, value);
        return device;
      },
    );

    // rotate-token (POST /api/devices/:id/token) and remove (DELETE /api/devices/:id): device-lifecycle.ts
  };
}
