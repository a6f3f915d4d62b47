import mqtt, { type MqttClient } from 'mqtt';
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { connect } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startController, type Controller } from '../../controller/controller.js';
import { ArtifactStore } from '../../controller/artifacts/store.js';
import { loadOrCreateSigningKey } from '../../controller/artifacts/signing.js';
import { Catalog } from '../../controller/catalog/catalog.js';
import { DbVersionError, migrate, openDb } from '../../controller/db.js';
import { DesiredStore, LiveStateStore, nextGeneration, ProfileStore } from '../../controller/profiles.js';
import { Registry } from '../../controller/registry.js';
import { RolloutEngine } from '../../controller/rollout/engine.js';
import { RolloutStore } from '../../controller/rollout/store.js';
import { validateSpec } from '../../controller/rollout/spec.js';
import { encode, type Desired, type Inventory, type Job } from '../../protocol/messages.js';
import { PROTOCOL_VERSION, deviceTopic } from '../../protocol/topics.js';
import { writeModel } from '../../compress/onnx/write.js';
import { buildYolov8 } from '../../compress/yolo/builder.js';
import { captureLogger } from '../helpers/log.js';
import { waitFor } from '../helpers/wait.js';
import { ERROR_CODES } from '../../protocol/errors.js';

// An adversarial pass over the controller's boundaries, against a real
// controller: fastify, the embedded aedes broker and SQLite in a temp data dir.

const INVENTORY: Inventory = {
  hostname: 'cam',
  cpuModel: 'test cpu',
  cpuCores: 4,
  cpuPhysicalCores: 4,
  arch: 'arm64',
  memTotalBytes: 4 * 1024 ** 3,
  os: 'linux',
  kernel: '6.1',
  boardModel: null,
  gpus: [],
  executionProviders: ['cpu'],
  onnxruntimeVersion: '1.20.0',
  edgefitVersion: '0.0.0',
};

type Reply = { status: number; body: { error?: unknown; message?: unknown } & Record<string, unknown> };

/** A raw HTTP request: no client-side URL normalization, any body and content type. */
function request(base: string, method: string, p: string, opts: { body?: string | Uint8Array; type?: string; token?: string } = {}): Promise<Reply> {
  const url = new URL(base);
  const headers: Record<string, string> = {};
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (opts.type) headers['content-type'] = opts.type;
  return new Promise((resolve, reject) => {
    const req = http.request({ host: url.hostname, port: url.port, path: p, method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: Reply['body'];
        try {
          body = text ? (JSON.parse(text) as Reply['body']) : {};
        } catch {
          body = { raw: text };
        }
        resolve({ status: res.statusCode ?? 0, body });
      });
    });
    req.on('error', reject);
    if (opts.body !== undefined) req.write(opts.body);
    req.end();
  });
}

function modelBytes(edit?: (m: ReturnType<typeof buildYolov8>) => void): Uint8Array {
  const model = buildYolov8({ scale: 'n', imgsz: 64, nc: 2 });
  edit?.(model);
  return writeModel(model);
}

describe('controller boundaries under bad input', () => {
  let dataDir: string;
  let controller: Controller;
  let capture: ReturnType<typeof captureLogger>;
  let modelId = '';
  const clients: MqttClient[] = [];
  const tokens: Record<string, string> = {};

  const api = (method: string, p: string, opts: { body?: string | Uint8Array; type?: string } = {}) => request(controller.httpUrl, method, p, { ...opts, token: controller.adminToken });
  const json = (method: string, p: string, value: unknown) => api(method, p, { body: JSON.stringify(value), type: 'application/json' });
  const serverErrors = () => capture.lines().filter((l) => (l.level as number) >= 50);

  async function start(): Promise<void> {
    capture = captureLogger();
    controller = await startController({ dataDir, mqttPort: 0, httpPort: 0, host: '127.0.0.1', log: capture.log });
  }

  /** A device as the broker sees it: its own credentials, a hello with its class. */
  async function device(id: string, deviceClass: string): Promise<MqttClient> {
    const client = await mqtt.connectAsync(controller.brokerUrl, { username: id, password: tokens[id], clientId: `${id}-${clients.length}`, reconnectPeriod: 0 });
    clients.push(client);
    await client.publishAsync(deviceTopic(id, 'hello'), encode({ v: PROTOCOL_VERSION, ts: Date.now(), inventory: INVENTORY, deviceClass }), { qos: 1 });
    await waitFor(() => controller.registry.get(id)?.online && controller.registry.get(id)?.deviceClass === deviceClass, 5000, `${id} online`);
    return client;
  }

  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'edgefit-boundaries-'));
    await start();
    for (const id of ['cam-1', 'cam-2', 'idle-1', 'idle-2', 'reset-1']) tokens[id] = controller.registry.add(id, { site: 'lab' });
    const added = await api('POST', '/api/models?name=m&build=false', { body: modelBytes(), type: 'application/octet-stream' });
    expect(added.status).toBe(201);
    modelId = (added.body.model as { id: string }).id;
    const imported = await api('POST', `/api/models/${modelId}/candidates?method=export&declaredMap5095=0.3&name=n64`, { body: modelBytes(), type: 'application/octet-stream' });
    expect(imported.status).toBe(201);
  });

  afterAll(async () => {
    for (const c of clients) c.end(true);
    await controller?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('needs the admin token however the /api path is spelled', async () => {
    const before = tokens['idle-1'];
    for (const p of ['/%61pi/devices', '/%61%70%69/devices', '/api/devices']) {
      const res = await request(controller.httpUrl, 'GET', p);
      expect(res.status, p).toBe(401);
      expect(res.body.devices, p).toBeUndefined();
    }
    // Rotating a token without the admin token would hand out a device's credentials.
    const rotate = await request(controller.httpUrl, 'POST', '/%61pi/devices/idle-1/token');
    expect(rotate.status).toBe(401);
    expect(rotate.body.token).toBeUndefined();
    expect(controller.registry.authenticate('idle-1', before)).toBe(true);
  });

  it('answers every malformed request with a 4xx and a JSON { error, message }', async () => {
    const octet = 'application/octet-stream';
    const cases: Array<[string, Promise<Reply>, number]> = [
      ['malformed JSON', api('POST', '/api/devices', { body: '{"id":', type: 'application/json' }), 400],
      ['empty JSON body', api('POST', '/api/devices', { body: '', type: 'application/json' }), 400],
      ['JSON null', api('POST', '/api/devices', { body: 'null', type: 'application/json' }), 400],
      ['a JSON array', api('POST', '/api/devices', { body: '[]', type: 'application/json' }), 400],
      ['text/plain body', api('POST', '/api/devices', { body: '{"id":"x"}', type: 'text/plain' }), 400],
      ['unknown content type', api('POST', '/api/devices', { body: '<id>x</id>', type: 'application/xml' }), 415],
      ['a number for an id', json('POST', '/api/devices', { id: 5 }), 400],
      ['path traversal as a device id', json('POST', '/api/devices', { id: '../../etc' }), 400],
      ['the controller user as a device id', json('POST', '/api/devices', { id: 'edgefit-controller' }), 400],
      ['a bad label key', json('POST', '/api/devices', { id: 'x1', labels: { 'bad key': 'v' } }), 400],
      ['a duplicate device', json('POST', '/api/devices', { id: 'cam-1' }), 409],
      ['prototype poisoning', api('POST', '/api/devices/idle-1/labels', { body: '{"labels":{"__proto__":{"a":"b"}}}', type: 'application/json' }), 400],
      ['a body over 1 MiB', json('POST', '/api/devices', { id: 'big', labels: { a: 'x'.repeat(1024 * 1024) } }), 413],
      ['labels of an unknown device', json('POST', '/api/devices/nope/labels', { labels: { a: 'b' } }), 404],
      ['a token for an unknown device', api('POST', '/api/devices/nope/token'), 404],
      ['deleting an unknown device', api('DELETE', '/api/devices/nope'), 404],
      ['an encoded traversal as a device id', api('GET', '/api/devices/..%2F..%2Fetc%2Fpasswd'), 404],
      ['a negative limit', api('GET', '/api/devices/idle-1/profiles?limit=-1'), 400],
      ['a NaN limit', api('GET', '/api/devices/idle-1/profiles?limit=NaN'), 400],
      ['a limit given twice', api('GET', '/api/devices/idle-1/profiles?limit=1&limit=2'), 400],
      ['a huge limit', api('GET', '/api/devices/idle-1/profiles?limit=1e9'), 400],
      ['an artifact upload without a name', api('POST', '/api/artifacts', { body: 'abc', type: octet }), 400],
      ['an empty artifact', api('POST', '/api/artifacts?name=a', { body: '', type: octet }), 400],
      ['an artifact as JSON', json('POST', '/api/artifacts?name=a', { a: 1 }), 400],
      ['an artifact name of 300 characters', api('POST', `/api/artifacts?name=${'x'.repeat(300)}`, { body: 'abc', type: octet }), 400],
      ['a model that is not ONNX', api('POST', '/api/models?name=x', { body: 'not a model', type: octet }), 400],
      ['a model with a traversal name', api('POST', '/api/models?name=../x', { body: modelBytes(), type: octet }), 400],
      ['a model as JSON', json('POST', '/api/models?name=x', {}), 400],
      ['model sizes that are not sizes', api('POST', '/api/models?name=x&sizes=NaN,-32', { body: modelBytes(), type: octet }), 400],
      ['an unknown ladder', api('POST', '/api/models?name=x&ladder=nope', { body: modelBytes(), type: octet }), 400],
      ['an unknown model', api('GET', '/api/models/nope'), 404],
      ['an unknown ladder job', api('GET', '/api/ladder-jobs/nope'), 404],
      ['an empty declared mAP', api('POST', `/api/models/${modelId}/candidates?method=x&declaredMap5095=&name=empty`, { body: modelBytes(), type: octet }), 400],
      ['a NaN declared mAP', api('POST', `/api/models/${modelId}/candidates?method=x&declaredMap5095=NaN`, { body: modelBytes(), type: octet }), 400],
      ['a declared mAP over 1', api('POST', `/api/models/${modelId}/candidates?method=x&declaredMap5095=31`, { body: modelBytes(), type: octet }), 400],
      ['a candidate name with a traversal', api('POST', `/api/models/${modelId}/candidates?method=x&declaredMap5095=0.3&name=../n`, { body: modelBytes(), type: octet }), 400],
      ['a candidate of an unknown model', api('POST', '/api/models/nope/candidates?method=x&declaredMap5095=0.3', { body: modelBytes(), type: octet }), 404],
      ['a malformed rollout spec', api('POST', '/api/rollouts', { body: '{"model":', type: 'application/json' }), 400],
      ['a rollout spec of the wrong shape', json('POST', '/api/rollouts', { model: modelId, slo: { minFps: -1 } }), 400],
      ['a rollout of an unknown model', json('POST', '/api/rollouts', { model: 'nope', slo: { minFps: 1 } }), 404],
      ['a rollout to an unknown device', json('POST', '/api/rollouts', { model: modelId, slo: { minFps: 1 }, targets: { devices: ['nope'] } }), 400],
      ['a rollout of an unknown candidate', json('POST', '/api/rollouts', { model: modelId, slo: { minFps: 1 }, candidates: ['nope'] }), 400],
      ['an unknown rollout', api('GET', '/api/rollouts/nope'), 404],
      ['aborting an unknown rollout', api('POST', '/api/rollouts/nope/abort'), 404],
      ['a NUL in a rollout id', api('GET', '/api/rollouts/%00'), 404],
      ['an unknown history', api('GET', '/api/live/devices/nope/history'), 404],
      ['an unknown route', api('GET', '/api/nope'), 404],
    ];
    for (const [what, pending, status] of cases) {
      const res = await pending;
      expect(res.status, `${what}: ${JSON.stringify(res.body)}`).toBe(status);
      // every refusal carries its catalogue code (protocol/error-catalogue.ts) beside its message
      expect(ERROR_CODES, `${what}: ${JSON.stringify(res.body)}`).toContain(res.body.error);
      expect(typeof res.body.message, what).toBe('string');
    }
    expect(serverErrors()).toEqual([]);
    // Nothing was half-created: the registry, the catalog and the rollouts are as before.
    expect(controller.registry.list().map((d) => d.id)).toEqual(['cam-1', 'cam-2', 'idle-1', 'idle-2', 'reset-1']);
    expect(controller.catalog.candidates(modelId).map((c) => c.name)).toEqual(['n64']);
    expect(controller.rolloutStore.list()).toEqual([]);
    expect((await api('GET', '/healthz')).status).toBe(200);
  });

  it('says E_ROLLOUT_UNKNOWN for an unknown rollout', async () => {
    const res = await api('GET', '/api/rollouts/r-0000000000');
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ error: 'E_ROLLOUT_UNKNOWN', message: "no rollout 'r-0000000000'" });
  });

  it('refuses models whose input size or cost is not a number it can plan with', async () => {
    const octet = 'application/octet-stream';
    const zero = await api('POST', '/api/models?name=zero&build=false', { body: modelBytes((m) => (m.graph.inputs[0].shape = [1, 3, 0, 0])), type: octet });
    expect(zero.status, JSON.stringify(zero.body)).toBe(400);
    expect(zero.body.message).toMatch(/cannot run as a detector: .*got \[1, 3, 0, 0\]/);
    const stride0 = modelBytes((m) => m.graph.nodes.find((n) => n.opType === 'Conv')!.attributes.set('strides', { type: 'ints', value: [0, 0] }));
    const asModel = await api('POST', '/api/models?name=stride0&build=false', { body: stride0, type: octet });
    expect(asModel.status, JSON.stringify(asModel.body)).toBe(400);
    expect(asModel.body.message).toMatch(/not a finite number/);
    const asCandidate = await api('POST', `/api/models/${modelId}/candidates?method=x&declaredMap5095=0.3&name=stride0`, { body: stride0, type: octet });
    expect(asCandidate.status, JSON.stringify(asCandidate.body)).toBe(400);
    expect(controller.catalog.listModels().map((m) => m.id)).toEqual([modelId]);
    expect(serverErrors()).toEqual([]);
  });

  it('holds a device in one active rollout at a time, and refuses to change a finished one', async () => {
    const spec = { model: modelId, targets: { devices: ['idle-1', 'idle-2'] }, slo: { minFps: 1 } };
    // Sent at once: exactly one wins.
    const racing = await Promise.all([json('POST', '/api/rollouts', spec), json('POST', '/api/rollouts', { ...spec, targets: { labels: { site: 'lab' } } })]);
    expect(racing.map((r) => r.status).sort()).toEqual([201, 409]);
    const first = racing.find((r) => r.status === 201)!.body.id as string;
    const refused = racing.find((r) => r.status === 409)!;
    expect(refused.body.error).toBe('E_ROLLOUT_CONFLICT');
    expect(refused.body.message).toMatch(new RegExp(`already in rollout ${first} \\(running\\)`));
    expect(controller.rolloutStore.list().map((r) => r.id)).toEqual([first]);

    expect((await api('POST', `/api/rollouts/${first}/pause`)).status).toBe(200);
    const whilePaused = await json('POST', '/api/rollouts', { ...spec, targets: { devices: ['idle-2'] } });
    expect(whilePaused.status).toBe(409);
    expect(whilePaused.body.message).toMatch(/idle-2.*\(paused\)/);
    const pausedTwice = await api('POST', `/api/rollouts/${first}/pause`);
    expect(pausedTwice.status).toBe(409);
    expect(pausedTwice.body.message).toBe(`rollout '${first}' is already paused`);

    expect((await api('POST', `/api/rollouts/${first}/abort`)).status).toBe(200);
    for (const action of ['abort', 'pause', 'resume']) {
      const again = await api('POST', `/api/rollouts/${first}/${action}`);
      expect(again.status, action).toBe(409);
      expect(again.body).toEqual({ error: 'E_ROLLOUT_CONFLICT', message: action === 'abort' ? `rollout '${first}' is already aborted` : `rollout '${first}' is aborted: it cannot be ${action === 'pause' ? 'paused' : 'resumed'}` });
    }
    expect(controller.rolloutStore.get(first)!.state).toBe('aborted');
    // Once the first is over its devices are free again.
    const next = await json('POST', '/api/rollouts', spec);
    expect(next.status, JSON.stringify(next.body)).toBe(201);
    expect((await api('POST', `/api/rollouts/${next.body.id as string}/abort`)).status).toBe(200);
  });

  it('counts desired generations on from what a device reports, so a device ahead of this database still takes the next one', async () => {
    const dev = await device('reset-1', '4444444444444444');
    // as after a database reset: the device served generation 7 from an earlier life of this controller
    const reported = { v: PROTOCOL_VERSION, ts: Date.now(), generation: 7, state: 'healthy', activeModel: null, slo: null };
    await dev.publishAsync(deviceTopic('reset-1', 'reported'), encode(reported), { qos: 1, retain: true });
    await waitFor(() => controller.live.get('reset-1').reported?.generation === 7, 5000, 'the reported state recorded');
    expect((await controller.setDesired('reset-1', { model: null })).generation).toBe(8);
    expect((await controller.setDesired('reset-1', { model: null })).generation).toBe(9);
  });

  it("keeps a device's result when another device published one under its job id first", async () => {
    const cam1 = await device('cam-1', '1111111111111111');
    const cam2 = await device('cam-2', '2222222222222222');
    const jobs: Job[] = [];
    cam1.on('message', (_topic, payload) => jobs.push(JSON.parse(payload.toString()) as Job));
    await cam1.subscribeAsync(deviceTopic('cam-1', 'jobs'), { qos: 1 });
    const created = await json('POST', '/api/rollouts', { model: modelId, targets: { devices: ['cam-1'] }, slo: { minFps: 1 }, profile: { durationS: 1, warmup: 0 } });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const id = created.body.id as string;
    const job = await waitFor(() => jobs[0], 10_000, 'the profiling job on cam-1');
    const result = (from: string, error: string) => ({ v: PROTOCOL_VERSION, ts: Date.now(), jobId: job.jobId, deviceId: from, kind: 'profile', artifactSha256: job.artifact.sha256, ok: false, error });

    await cam2.publishAsync(deviceTopic('cam-2', 'results'), encode(result('cam-2', 'forged by cam-2')), { qos: 1 });
    await waitFor(() => controller.profiles.get(job.jobId, 'cam-2'), 5000, 'the forged result stored under cam-2');
    expect(controller.rolloutStore.measurements(id)[0].outcome).toBeNull();

    await cam1.publishAsync(deviceTopic('cam-1', 'results'), encode(result('cam-1', 'onnxruntime: cannot load')), { qos: 1 });
    const stored = await waitFor(() => controller.profiles.get(job.jobId, 'cam-1'), 5000, "cam-1's own result stored");
    expect(stored.error).toBe('onnxruntime: cannot load');
    const outcome = await waitFor(() => controller.rolloutStore.measurements(id)[0].outcome, 5000, 'the measurement settled');
    expect(outcome).toEqual({ ok: false, error: 'onnxruntime: cannot load' });
    expect(controller.profiles.forDevice('cam-1').map((p) => p.jobId)).toEqual([job.jobId]);
    await waitFor(() => controller.rolloutStore.get(id)?.state === 'aborted', 10_000, 'the rollout to abort on its failed canary');
  });

  it('drops malformed, schema-invalid and oversized device messages, stays up, and keeps what devices send validly', async () => {
    const cam2 = clients.find((c) => c.options.username === 'cam-2')!;
    const before = controller.registry.get('cam-2')!;
    const bad = ['', 'not json', 'null', '[]', '"x"', '1e999', '{}', '{"v":2,"ts":1}', '{"v":1,"ts":-1}', '\u0000\u0001\u0002', '{"v":1,"ts":1,"__proto__":{"state":"offline"}}'];
    for (const payload of bad) {
      for (const channel of ['hello', 'presence', 'heartbeat', 'telemetry', 'results', 'reported'] as const) {
        await cam2.publishAsync(deviceTopic('cam-2', channel), Buffer.from(payload), { qos: 1 });
      }
    }
    // A result naming another device is not stored under either.
    await cam2.publishAsync(deviceTopic('cam-2', 'results'), encode({ v: 1, ts: Date.now(), jobId: 'claimed', deviceId: 'cam-1', kind: 'profile', artifactSha256: 'a'.repeat(64), ok: true }), { qos: 1 });
    // A valid heartbeat after all of that is recorded.
    const heartbeat = { v: PROTOCOL_VERSION, ts: Date.now(), uptimeS: 7, agentUptimeS: 3, load1: 0.5, memUsedBytes: 1, memTotalBytes: 2, temperatureC: null };
    await cam2.publishAsync(deviceTopic('cam-2', 'heartbeat'), encode(heartbeat), { qos: 1 });
    await waitFor(() => controller.registry.get('cam-2')?.heartbeat?.uptimeS === 7, 5000, 'the valid heartbeat');
    const after = controller.registry.get('cam-2')!;
    expect(after.inventory).toEqual(before.inventory);
    expect(after.deviceClass).toBe(before.deviceClass);
    expect(after.online).toBe(true);
    expect(controller.profiles.get('claimed')).toBeUndefined();
    expect(capture.lines().some((l) => l.msg === 'result naming another device dropped')).toBe(true);
    expect(capture.lines().filter((l) => String(l.msg).startsWith('malformed')).length).toBeGreaterThanOrEqual(bad.length * 5);
    expect(serverErrors()).toEqual([]);
    expect((await api('GET', '/healthz')).status).toBe(200);
  });

  it('cuts a connection whose packet length runs past the four bytes MQTT allows', async () => {
    const socket = connect(Number(new URL(controller.brokerUrl).port), '127.0.0.1');
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.on('error', () => undefined);
    // A CONNECT whose remaining length never ends: 0x80 says "more length bytes follow", forever.
    socket.write(Buffer.from([0x10, ...new Array<number>(200).fill(0x80)]));
    await closed;
    expect(capture.lines().some((l) => l.msg === 'mqtt packet refused: malformed length')).toBe(true);
    expect((await api('GET', '/healthz')).status).toBe(200);
  });

  it('keeps devices, labels, profiles and rollout states across a restart on the same data dir', async () => {
    const rollouts = controller.rolloutStore.list().map((r) => ({ id: r.id, state: r.state, reason: r.reason }));
    const devices = controller.registry.list().map((d) => ({ id: d.id, labels: d.labels, deviceClass: d.deviceClass }));
    const profiles = ['cam-1', 'cam-2'].map((id) => controller.profiles.forDevice(id));
    for (const c of clients.splice(0)) c.end(true);
    await controller.close();
    await start();
    expect(controller.rolloutStore.list().map((r) => ({ id: r.id, state: r.state, reason: r.reason }))).toEqual(rollouts);
    expect(controller.registry.list().map((d) => ({ id: d.id, labels: d.labels, deviceClass: d.deviceClass }))).toEqual(devices);
    expect(['cam-1', 'cam-2'].map((id) => controller.profiles.forDevice(id))).toEqual(profiles);
    expect(profiles.flat()).toHaveLength(2);
    expect(tokens['cam-1'] && controller.registry.authenticate('cam-1', tokens['cam-1'])).toBe(true);
  });
});

describe('the state database', () => {
  it('keeps results stored before one result per job and device, and takes a second device for the same job after the upgrade', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'edgefit-db-'));
    try {
      // The store as an older release left it: profiles keyed by job alone, no rollout send times, schema version 4.
      const raw = new Database(path.join(dir, 'edgefit.db'));
      migrate(raw, 4);
      raw.exec(`INSERT INTO profiles VALUES ('job-1', 'cam-1', '${'a'.repeat(64)}', 'c-1', 1, NULL, '{"wallS":1}', 10, 11);`);
      raw.close();

      const db = openDb(dir);
      try {
        expect(db.prepare('SELECT job_id, device_id, candidate_id, profile FROM profiles').all()).toEqual([{ job_id: 'job-1', device_id: 'cam-1', candidate_id: 'c-1', profile: '{"wallS":1}' }]);
        db.prepare("INSERT INTO profiles (job_id, device_id, artifact_sha256, ok, finished_at, received_at) VALUES ('job-1', 'cam-2', 'x', 0, 1, 1)").run();
        expect(() => db.prepare("INSERT INTO profiles (job_id, device_id, artifact_sha256, ok, finished_at, received_at) VALUES ('job-1', 'cam-2', 'x', 0, 1, 1)").run()).toThrow(/UNIQUE/);
        expect(db.prepare('SELECT sent_at FROM rollout_devices').all()).toEqual([]);
      } finally {
        db.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a database written by a newer edgefit and leaves it as it was', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'edgefit-db-'));
    try {
      openDb(dir).close();
      const raw = new Database(path.join(dir, 'edgefit.db'));
      raw.pragma('user_version = 99');
      raw.close();
      expect(() => openDb(dir)).toThrow(DbVersionError);
      expect(() => openDb(dir)).toThrow(/schema version 99.*newer edgefit/);
      const after = new Database(path.join(dir, 'edgefit.db'));
      expect(after.pragma('user_version', { simple: true })).toBe(99);
      after.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('which devices a running rollout still holds', () => {
  it('lets go of a device that is healthy, rolled back or out of retries while one offline device keeps the rollout running', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'edgefit-hold-'));
    const db = openDb(dir);
    try {
      const store = new RolloutStore(db);
      const devices = ['healthy', 'offline', 'retrying', 'spent', 'rolled'].map((deviceId) => ({ deviceId, deviceClass: null, stage: 0 }));
      const rollout = store.create(validateSpec({ model: 'm', slo: { minFps: 1 }, retries: 1 }), devices);
      store.transition(rollout.id, 'healthy', 'chosen');
      store.transition(rollout.id, 'healthy', 'healthy');
      store.transition(rollout.id, 'offline', 'chosen');
      store.transition(rollout.id, 'offline', 'offline');
      store.transition(rollout.id, 'retrying', 'failed', { attempts: 0 });
      store.transition(rollout.id, 'spent', 'timed-out', { attempts: 1 });
      store.transition(rollout.id, 'rolled', 'rolled-back');
      expect(store.get(rollout.id)!.state).toBe('running');
      expect(store.activeRolloutsOf(devices.map((d) => d.deviceId)).map((h) => h.deviceId).sort()).toEqual(['offline', 'retrying']);
      store.setState(rollout.id, 'paused', null, ['running']);
      expect(store.activeRolloutsOf(['offline', 'healthy']).map((h) => [h.deviceId, h.state])).toEqual([['offline', 'paused']]);
    } finally {
      db.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('an operator abort during a deployment pass', () => {
  /**
   * A rollout of one candidate to d1 and d2, aborted while the first desired
   * state is on its way; that send then goes through or, with `firstSendFails`,
   * fails as a publish to a dead broker would. Desired states are stored as the
   * fleet link stores them. Both devices report generation 7, which this
   * controller never stored (its database was reset).
   */
  async function abortDuringSend(firstSendFails: boolean) {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'edgefit-abort-race-'));
    const db = openDb(dir);
    try {
      const registry = new Registry(db);
      for (const id of ['d1', 'd2']) {
        registry.add(id);
        registry.recordHello(id, { v: PROTOCOL_VERSION, ts: 1, inventory: INVENTORY, deviceClass: '3333333333333333' });
      }
      const catalog = new Catalog(db, new ArtifactStore(db, dir, loadOrCreateSigningKey(dir)));
      const model = await catalog.addModel(modelBytes(), 'm');
      await catalog.importCandidate(model.id, modelBytes(), { method: 'export', declaredMap5095: 0.3, name: 'n64' });
      const store = new RolloutStore(db);
      const desired = new DesiredStore(db);
      const live = new LiveStateStore();
      for (const id of ['d1', 'd2']) live.recordReported(id, { v: PROTOCOL_VERSION, ts: 1, generation: 7, state: 'healthy', activeModel: null, slo: null });
      // each send with the generation it publishes and the one the rollout recorded before it
      const sent: Array<{ deviceId: string; candidateId: string | null; generation: number; recorded: number | null }> = [];
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      const engine = new RolloutEngine({
        store,
        catalog,
        registry,
        live,
        desired,
        profiles: new ProfileStore(db),
        sendJob: async () => undefined,
        setDesired: async (deviceId, request) => {
          const generation = request.generation ?? nextGeneration(desired.get(deviceId), live.get(deviceId).reported);
          const recorded = request.rolloutId ? (store.devices(request.rolloutId).find((d) => d.deviceId === deviceId)?.generation ?? null) : null;
          sent.push({ deviceId, candidateId: request.model ? (request.candidateId ?? null) : null, generation, recorded });
          if (sent.length === 1) {
            await gate;
            if (firstSendFails) throw new Error('broker closed');
          }
          const value: Desired = { v: PROTOCOL_VERSION, ts: Date.now(), generation, model: request.model, slo: {}, ...(request.candidateId ? { candidateId: request.candidateId } : {}), ...(request.rolloutId ? { rolloutId: request.rolloutId } : {}) };
          desired.set(deviceId, value);
          return value;
        },
        log: captureLogger().log,
      });
      const rollout = engine.create({ model: model.id, skipProfiling: true, slo: { minFps: 1 }, stages: { canary: 2 } });
      await waitFor(() => sent.length === 1, 5000, 'the first desired state on its way');
      engine.abort(rollout.id);
      release();
      const first = sent[0].deviceId;
      const other = first === 'd1' ? 'd2' : 'd1';
      const stateOf = (id: string) => store.devices(rollout.id).find((d) => d.deviceId === id)!.state;
      await waitFor(() => stateOf(first) !== 'chosen' && stateOf(other) !== 'chosen', 5000, 'both devices settled');
      if (!firstSendFails) await waitFor(() => sent.some((s) => s.candidateId === null), 5000, 'the rollback of the first device');
      await engine.close();
      return { sent, first, other, rollout: store.get(rollout.id)!, states: { first: stateOf(first), other: stateOf(other) }, desired: { first: desired.get(first), other: desired.get(other) } };
    } finally {
      db.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }

  it('stops the pass: no device gets the candidate after the abort, and the abort stands', async () => {
    const r = await abortDuringSend(false);
    expect(r.sent.filter((s) => s.candidateId !== null).map((s) => s.deviceId)).toEqual([r.first]);
    // the generation it recorded before the send is the one the send published, counted on from the device's 7
    expect(r.sent[0]).toMatchObject({ generation: 8, recorded: 8 });
    expect(r.rollout.state).toBe('aborted');
    // the device that got the candidate is pointed back at what it ran before (nothing)
    expect(r.states).toEqual({ first: 'rolled-back', other: 'cancelled' });
    expect(r.desired.first!.model).toBeNull();
    expect(r.desired.other).toBeUndefined();
  });

  it('cancels the device whose send failed: it never got the model, so nothing is rolled back', async () => {
    const r = await abortDuringSend(true);
    expect(r.rollout.state).toBe('aborted');
    expect(r.states).toEqual({ first: 'cancelled', other: 'cancelled' });
    expect(r.sent).toHaveLength(1);
    expect(r.desired.first).toBeUndefined();
  });
});
