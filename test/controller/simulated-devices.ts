// Protocol-speaking devices for rollout tests: MQTT clients on the real
// controller's broker that record the desired states and jobs they get and
// report what the test tells them to, so a test can hold a device at any step.
import mqtt, { type MqttClient } from 'mqtt';
import { expect } from 'vitest';
import type { rolloutStatus } from '../../controller/rollout/status.js';
import { writeModel } from '../../compress/onnx/write.js';
import { buildYolov8 } from '../../compress/yolo/builder.js';
import { decode, Desired, encode, Job, type Hello, type Inventory, type LatencyStats, type ProfileReport, type Reported, type Result } from '../../protocol/messages.js';
import { deviceTopic, PROTOCOL_VERSION } from '../../protocol/topics.js';
import type { TestFleet } from '../agent/fleet.js';
import { waitFor } from '../helpers/wait.js';

export type Status = ReturnType<typeof rolloutStatus>;

export interface SimulatedDevice {
  id: string;
  token: string;
  deviceClass: string;
  client: MqttClient;
  desired: Desired[];
  jobs: Job[];
}

function hello(id: string, deviceClass: string, inventory: Partial<Inventory>): Hello {
  return {
    v: PROTOCOL_VERSION,
    ts: Date.now(),
    deviceClass,
    inventory: { hostname: id, cpuModel: 'Cortex-A76', cpuCores: 4, cpuPhysicalCores: 4, arch: 'arm64', memTotalBytes: 8 * 1024 ** 3, os: 'Debian GNU/Linux 12', kernel: '6.6.31', boardModel: 'Raspberry Pi 5 Model B Rev 1.0', gpus: [], executionProviders: ['cpu'], onnxruntimeVersion: '1.30.0', edgefitVersion: '0.1.0', ...inventory },
  };
}

/**
 * Registers `id` (unless `token` says it is registered), connects it, says
 * hello (with `inventory` over a Raspberry Pi 5's, e.g. its execution
 * providers); `on` sees each desired state or job after it is recorded.
 */
export async function connectDevice(fleet: TestFleet, id: string, deviceClass: string, on: { desired?: (d: SimulatedDevice) => void; job?: (d: SimulatedDevice, job: Job) => void } = {}, token = fleet.controller.registry.add(id), inventory: Partial<Inventory> = {}): Promise<SimulatedDevice> {
  const client = await mqtt.connectAsync(fleet.controller.brokerUrl, { username: id, password: token, clientId: `sim-${id}`, reconnectPeriod: 0 });
  const d: SimulatedDevice = { id, token, deviceClass, client, desired: [], jobs: [] };
  client.on('message', (topic, payload) => {
    if (topic === deviceTopic(id, 'desired')) {
      const msg = decode(Desired, payload);
      if (!msg.ok) return;
      d.desired.push(msg.value);
      on.desired?.(d);
    } else {
      const msg = decode(Job, payload);
      if (!msg.ok) return;
      d.jobs.push(msg.value);
      on.job?.(d, msg.value);
    }
  });
  await client.subscribeAsync([deviceTopic(id, 'desired'), deviceTopic(id, 'jobs')], { qos: 1 });
  await client.publishAsync(deviceTopic(id, 'hello'), encode(hello(id, deviceClass, inventory)), { qos: 1 });
  return d;
}

/** The device reports `state` about the last desired state it got. */
export async function reportState(d: SimulatedDevice, state: Reported['state']): Promise<void> {
  const last = d.desired[d.desired.length - 1];
  const body: Reported = { v: PROTOCOL_VERSION, ts: Date.now(), generation: last.generation, ...(last.rolloutId ? { rolloutId: last.rolloutId } : {}), state, activeModel: state === 'healthy' && last.model ? { sha256: last.model.sha256, generation: last.generation, ...(last.candidateId ? { candidateId: last.candidateId } : {}) } : null, slo: null };
  await d.client.publishAsync(deviceTopic(d.id, 'reported'), encode(body), { qos: 1, retain: true });
}

function latency(ms: number): LatencyStats {
  return { n: 50, minMs: ms, p50Ms: ms, p90Ms: ms, p95Ms: ms, p99Ms: ms, maxMs: ms, meanMs: ms, stdMs: 0 };
}

/** A device's report at `fps` end to end (default 100 FPS, a fast device's, well inside any SLO of these tests), on the job's provider. */
function report(job: Job, fps = 100): ProfileReport {
  return {
    threads: null,
    sessionCreateMs: 20,
    warmupRuns: 0,
    model: latency(800 / fps),
    modelFps: fps * 1.25,
    endToEnd: latency(1000 / fps),
    endToEndFps: fps,
    sustained: null,
    cpuPct: null,
    ep: job.options.ep,
    modelSha256: job.artifact.sha256,
    inputShape: [1, 3, 64, 64],
    outputShape: [1, 6, 84],
    frame: { width: 64, height: 64, source: 'synthetic' },
    memory: { rssAfterLoadMb: 100, peakRssMb: 120, rssGrowthMb: 1 },
    temperature: { beforeC: null, peakC: null, afterC: null },
    throttling: { maxClockDropPct: null, cpuMaxFreqMHz: null, firmwareThrottled: null, firmwareFlags: null },
    sweep: null,
    wallS: 1,
    environment: { load1: null, load5: null, servingPaused: false, topProcesses: [] },
  };
}

/**
 * The device answers a profile job: by default with a fast device's report;
 * with `outcome`, at the FPS the test set for this job, or failed with its error.
 */
export async function answerProfile(d: SimulatedDevice, job: Job, outcome: { fps: number } | { error: string } = { fps: 100 }): Promise<void> {
  const answer = 'error' in outcome ? { ok: false, error: outcome.error } : { ok: true, profile: report(job, outcome.fps) };
  const result: Result = { v: PROTOCOL_VERSION, ts: Date.now(), jobId: job.jobId, deviceId: d.id, kind: 'profile', artifactSha256: job.artifact.sha256, ...(job.candidateId ? { candidateId: job.candidateId } : {}), ...answer };
  await d.client.publishAsync(deviceTopic(d.id, 'results'), encode(result), { qos: 1 });
}

/** POST to the controller's API as the admin: JSON, or model bytes. */
export function post(fleet: TestFleet, p: string, body: unknown): Promise<Response> {
  const bytes = body instanceof Uint8Array;
  return fetch(fleet.controller.httpUrl + p, { method: 'POST', headers: { authorization: `Bearer ${fleet.controller.adminToken}`, 'content-type': bytes ? 'application/octet-stream' : 'application/json' }, body: bytes ? new Blob([Uint8Array.from(body)]) : JSON.stringify(body) });
}

/** A builder-made yolov8n with its quick ladder built at `sizes` (default 64 px only); resolves to the model id. */
export async function quickModel(fleet: TestFleet, name: string, sizes = [64]): Promise<string> {
  const res = await post(fleet, `/api/models?name=${name}&ladder=quick&sizes=${sizes.join(',')}`, writeModel(buildYolov8({ scale: 'n', imgsz: Math.max(...sizes), nc: 2 })));
  const added = (await res.json()) as { model: { id: string }; job: { id: string } };
  expect(res.status).toBe(202);
  await waitFor(async () => (await fleet.api<{ state: string }>(`/api/ladder-jobs/${added.job.id}`)).body.state === 'done', 60_000, 'the ladder');
  return added.model.id;
}

/** Waits until `count` simulated devices are online with a device class. */
export function allOnline(fleet: TestFleet, count: number): Promise<unknown> {
  return waitFor(() => fleet.controller.registry.list().filter((d) => d.online && d.deviceClass).length === count, 10_000, 'every simulated device online');
}

/** Disconnects the simulated devices, then stops the fleet. */
export async function closeFleet(fleet: TestFleet, devices: Iterable<SimulatedDevice>): Promise<void> {
  await Promise.all([...devices].map((d) => d.client.endAsync(true)));
  await fleet.close();
}
