// The rollout rate: at most `maxInFlight` devices deploying at once and at most
// `perMinute` given the model in any minute. The devices are protocol-speaking
// MQTT clients on the controller's real broker, so the test decides when each
// turns healthy and can hold a stage mid-deployment; the controller, its
// SQLite state and its reconcile loop are the real ones.
import { createHash } from 'node:crypto';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { rolloutStatus } from '../../controller/rollout/status.js';
import { deploySlots, RATE_WINDOW_MS } from '../../controller/rollout/rate.js';
import { writeModel } from '../../compress/onnx/write.js';
import { buildYolov8 } from '../../compress/yolo/builder.js';
import { decode, Desired, encode, type Hello, type Reported } from '../../protocol/messages.js';
import { deviceTopic } from '../../protocol/topics.js';
import { TestFleet } from '../agent/fleet.js';
import { waitFor } from '../helpers/wait.js';

describe('deploySlots', () => {
  const now = 1_000_000;
  it('is bounded by the devices deploying now', () => {
    expect(deploySlots({ maxInFlight: 3 }, 0, [], now)).toBe(3);
    expect(deploySlots({ maxInFlight: 3 }, 2, [now - 10], now)).toBe(1);
    expect(deploySlots({ maxInFlight: 3 }, 5, [], now)).toBe(0);
  });

  it('counts only the devices given the model within the last minute against perMinute', () => {
    const sent = [now - RATE_WINDOW_MS - 1, now - RATE_WINDOW_MS, now - 30_000, now - 1];
    expect(deploySlots({ maxInFlight: 100, perMinute: 4 }, 0, sent, now)).toBe(2);
    expect(deploySlots({ maxInFlight: 100, perMinute: 2 }, 0, sent, now)).toBe(0);
    expect(deploySlots({ maxInFlight: 1, perMinute: 4 }, 0, sent, now)).toBe(1);
    expect(deploySlots({ maxInFlight: 100, perMinute: 2 }, 0, sent, now + 30_000)).toBe(1);
    expect(deploySlots({ maxInFlight: 100, perMinute: 2 }, 0, sent, now + RATE_WINDOW_MS)).toBe(2);
  });
});

type Status = ReturnType<typeof rolloutStatus>;

/** A device that reports what the test tells it to about each desired state it gets. */
interface SimulatedDevice {
  id: string;
  client: MqttClient;
  desired: Desired[];
}

function hello(id: string): Hello {
  return {
    v: 1,
    ts: Date.now(),
    deviceClass: createHash('sha256').update('one board').digest('hex').slice(0, 16),
    inventory: { hostname: id, cpuModel: 'Cortex-A76', cpuCores: 4, cpuPhysicalCores: 4, arch: 'arm64', memTotalBytes: 8 * 1024 ** 3, os: 'Debian GNU/Linux 12', kernel: '6.6.31', boardModel: 'Raspberry Pi 5 Model B Rev 1.0', gpus: [], executionProviders: ['cpu'], onnxruntimeVersion: '1.30.0', edgefitVersion: '0.1.0' },
  };
}

describe('rollout rate, on the real controller with simulated devices', () => {
  const fleet = new TestFleet();
  const devices: SimulatedDevice[] = [];
  let modelId = '';

  async function report(d: SimulatedDevice, state: Reported['state']): Promise<void> {
    const last = d.desired[d.desired.length - 1];
    const body: Reported = { v: 1, ts: Date.now(), generation: last.generation, ...(last.rolloutId ? { rolloutId: last.rolloutId } : {}), state, activeModel: state === 'healthy' && last.model ? { sha256: last.model.sha256, generation: last.generation, ...(last.candidateId ? { candidateId: last.candidateId } : {}) } : null, slo: null };
    await d.client.publishAsync(deviceTopic(d.id, 'reported'), encode(body), { qos: 1, retain: true });
  }

  const status = async (id: string) => (await fleet.api<Status>(`/api/rollouts/${id}`)).body;
  const post = (p: string, body: unknown) =>
    fetch(fleet.controller.httpUrl + p, { method: 'POST', headers: { authorization: `Bearer ${fleet.controller.adminToken}`, 'content-type': body instanceof Uint8Array ? 'application/octet-stream' : 'application/json' }, body: body instanceof Uint8Array ? new Blob([Uint8Array.from(body)]) : JSON.stringify(body) });
  const sent = () => devices.filter((d) => d.desired.length > 0).map((d) => d.id);

  beforeAll(async () => {
    await fleet.start();
    for (const id of ['r0', 'r1', 'r2', 'r3', 'r4']) {
      const token = fleet.controller.registry.add(id);
      const client = await mqtt.connectAsync(fleet.controller.brokerUrl, { username: id, password: token, clientId: `sim-${id}`, reconnectPeriod: 0 });
      const d: SimulatedDevice = { id, client, desired: [] };
      client.on('message', (_topic, payload) => {
        const msg = decode(Desired, payload);
        if (msg.ok) {
          d.desired.push(msg.value);
          void report(d, 'health-check');
        }
      });
      await client.subscribeAsync(deviceTopic(id, 'desired'), { qos: 1 });
      await client.publishAsync(deviceTopic(id, 'hello'), encode(hello(id)), { qos: 1 });
      devices.push(d);
    }
    await waitFor(() => fleet.controller.registry.list().filter((d) => d.online && d.deviceClass).length === devices.length, 10_000, 'every simulated device online');
    const bytes = writeModel(buildYolov8({ scale: 'n', imgsz: 64, nc: 2 }));
    const res = await post('/api/models?name=rate&ladder=quick&sizes=64', bytes);
    const added = (await res.json()) as { model: { id: string }; job: { id: string } };
    expect(res.status).toBe(202);
    modelId = added.model.id;
    await waitFor(async () => (await fleet.api<{ state: string }>(`/api/ladder-jobs/${added.job.id}`)).body.state === 'done', 60_000, 'the ladder');
  }, 90_000);

  afterAll(async () => {
    await Promise.all(devices.map((d) => d.client.endAsync(true)));
    await fleet.close();
  });

  it('holds devices back while maxInFlight deploy, then while perMinute were given the model this minute', async () => {
    const res = await post('/api/rollouts', { model: modelId, slo: { minFps: 1 }, skipProfiling: true, stages: { canary: 1, phases: ['100%'] }, rate: { maxInFlight: 2, perMinute: 3 } });
    const { id } = (await res.json()) as { id: string };
    expect(res.status).toBe(201);
    const tick = () => new Promise((r) => setTimeout(r, 3000));

    await waitFor(() => sent().length === 1, 10_000, 'the canary given the model');
    const canary = devices.find((d) => d.desired.length > 0)!;
    await report(canary, 'healthy');

    // Stage 1: two deploy, the other two wait for a free place.
    await waitFor(() => sent().length === 3, 10_000, 'two more given the model');
    await tick();
    expect(sent()).toHaveLength(3);
    expect((await status(id)).devices.filter((d) => d.state === 'chosen').map((d) => d.deviceId).sort()).toEqual(devices.map((d) => d.id).filter((x) => !sent().includes(x)).sort());

    // Both turn healthy: nothing deploys, but three devices got the model within this minute.
    for (const d of devices.filter((x) => x !== canary && x.desired.length > 0)) await report(d, 'healthy');
    await waitFor(async () => (await status(id)).devices.filter((d) => d.state === 'healthy').length === 3, 10_000, 'three healthy');
    await tick();
    expect(sent()).toHaveLength(3);
    expect((await status(id)).state).toBe('running');
    expect(fleet.logs('desired state set')).toHaveLength(3);

    expect((await post(`/api/rollouts/${id}/abort`, {})).status).toBe(200);
  }, 60_000);
});
