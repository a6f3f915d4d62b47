import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startController, type Controller } from '../../controller/controller.js';
import { openDb } from '../../controller/db.js';
import { Registry } from '../../controller/registry.js';
import { decode, Desired, encode, Job, type Inventory } from '../../protocol/messages.js';
import { deviceTopic, PROTOCOL_VERSION } from '../../protocol/topics.js';
import { writeModel } from '../../compress/onnx/write.js';
import { buildYolov8 } from '../../compress/yolo/builder.js';
import { runCli, spawnCli, stop, type CliProcess } from '../helpers/cli.js';
import { captureLogger } from '../helpers/log.js';
import { waitFor, waitForListening } from '../helpers/wait.js';

const mosquittoBin = ['/usr/sbin/mosquitto', '/usr/bin/mosquitto'].find((p) => spawnSync(p, ['-h']).status !== null);

const INVENTORY: Inventory = { hostname: 'sim', cpuModel: 'Cortex-A72', cpuCores: 4, cpuPhysicalCores: 4, arch: 'arm64', memTotalBytes: 4 * 1024 ** 3, os: 'Debian GNU/Linux 12', kernel: '6.6', boardModel: null, gpus: [], executionProviders: ['cpu'], onnxruntimeVersion: '1.30.0', edgefitVersion: '0.1.0' };

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((r) => server.close(r));
  return port;
}

describe.skipIf(!mosquittoBin)('controller ⇄ agents through a real Mosquitto (needs the mosquitto package)', () => {
  let dir: string;
  let mosquitto: ChildProcess;
  let controller: Controller;
  let stopped = false;
  const logs = captureLogger();
  const agents: CliProcess[] = [];
  const tokens: Record<string, string> = {};
  let brokerUrl: string;
  let startMosquitto: () => Promise<void>;

  /** A protocol-speaking device: subscribed to its jobs and desired state, then present. */
  async function simDevice(id: string) {
    const client = await mqtt.connectAsync(brokerUrl, { username: id, password: tokens[id], clientId: `sim-${id}`, reconnectPeriod: 0 });
    const got = { client, jobs: [] as Job[], desired: [] as Desired[] };
    client.on('message', (topic, payload) => {
      if (topic === deviceTopic(id, 'jobs')) {
        const m = decode(Job, payload);
        if (m.ok) got.jobs.push(m.value);
      } else {
        const m = decode(Desired, payload);
        if (m.ok) got.desired.push(m.value);
      }
    });
    await client.subscribeAsync([deviceTopic(id, 'jobs'), deviceTopic(id, 'desired')], { qos: 1 });
    await client.publishAsync(deviceTopic(id, 'presence'), encode({ v: PROTOCOL_VERSION, ts: Date.now(), state: 'online' }), { qos: 1, retain: true });
    await client.publishAsync(deviceTopic(id, 'hello'), encode({ v: PROTOCOL_VERSION, ts: Date.now(), deviceClass: 'ffffffffffffffff', inventory: INVENTORY }), { qos: 1 });
    return got;
  }

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'edgefit-mosq-'));
    const dataDir = path.join(dir, 'data');
    const db = openDb(dataDir);
    const registry = new Registry(db);
    tokens['jetson-1'] = registry.add('jetson-1');
    tokens['jetson-2'] = registry.add('jetson-2');
    tokens['sim-1'] = registry.add('sim-1');
    db.close();

    const port = await freePort();
    const out = path.join(dir, 'mosquitto');
    const generated = await runCli(['broker-config', '--out', out, '--data', dataDir, '--port', String(port)]);
    expect(generated.code, generated.output).toBe(0);
    // Mosquitto started as root drops to its own user, which must be able to reach the owner-only files.
    for (const p of [dir, out, path.join(out, 'passwd')]) chmodSync(p, 0o755);
    startMosquitto = async () => {
      mosquitto = spawn(mosquittoBin!, ['-c', path.join(out, 'mosquitto.conf')], { stdio: 'ignore' });
      await waitForListening(port, 'mosquitto listening');
    };
    brokerUrl = `mqtt://127.0.0.1:${port}`;
    await startMosquitto();
    controller = await startController({ dataDir, brokerUrl, mqttPort: 0, httpPort: 0, host: '127.0.0.1', log: logs.log });
  });

  afterAll(async () => {
    await Promise.all(agents.map((a) => stop(a)));
    if (!stopped) await controller?.close();
    mosquitto?.kill();
    rmSync(dir, { recursive: true, force: true });
  });

  it('registers agents that connect through Mosquitto with generated credentials', async () => {
    for (const id of ['jetson-1', 'jetson-2']) agents.push(spawnCli(['agent', '--broker', brokerUrl, '--id', id, '--heartbeat', '1'], { EDGEFIT_TOKEN: tokens[id] }));
    const jetsons = () => controller.registry.list().filter((d) => d.id.startsWith('jetson-'));
    await waitFor(() => jetsons().every((d) => d.online && d.inventory), 15_000, 'agents online via mosquitto');
    const [a, b] = jetsons();
    expect(a.deviceClass).toBe(b.deviceClass);
  });

  it("enforces the generated ACL: a device cannot write another device's topic", async () => {
    const before = controller.registry.get('jetson-2')!;
    const client = mqtt.connect(brokerUrl, { username: 'jetson-1', password: tokens['jetson-1'], reconnectPeriod: 0 });
    await new Promise((r) => client.once('connect', r));
    await client.publishAsync(deviceTopic('jetson-2', 'presence'), encode({ v: 1, ts: Date.now(), state: 'offline' }), { qos: 1 });
    await new Promise((r) => setTimeout(r, 500));
    client.end(true);
    expect(controller.registry.get('jetson-2')!.online).toBe(before.online);
  });

  it("lets a device publish its own detections and snapshot through the generated ACL, and not another device's", async () => {
    const client = await mqtt.connectAsync(brokerUrl, { username: 'sim-1', password: tokens['sim-1'], clientId: 'outputs-sim-1', reconnectPeriod: 0 });
    try {
      const sha256 = 'c'.repeat(64);
      const record = { v: PROTOCOL_VERSION, ts: Date.now(), candidateId: null, sha256, seq: 1, frame: { width: 640, height: 480 }, boxes: [] };
      // a 1×1 JPEG is all the schema checks: the SOI marker, base64, the size cap
      const jpeg = Buffer.from([0xff, 0xd8, 0xff, 0xd9]).toString('base64');
      const snapshot = { ...record, image: { width: 1, height: 1, quality: 80 }, boxes: 0, jpeg };
      await client.publishAsync(deviceTopic('jetson-2', 'snapshot'), encode(snapshot), { qos: 0 });
      await client.publishAsync(deviceTopic('sim-1', 'snapshot'), encode(snapshot), { qos: 0 });
      await client.publishAsync(deviceTopic('sim-1', 'detections'), encode(record), { qos: 0 });
      await waitFor(() => controller.live.outputs.latestDetections('sim-1') && controller.live.outputs.latestSnapshot('sim-1'), 10_000, "sim-1's record and snapshot through mosquitto");
      expect(controller.live.outputs.latestSnapshot('jetson-2')).toBeUndefined();
    } finally {
      await client.endAsync();
    }
  });

  it('refuses a wrong token', async () => {
    const client = mqtt.connect(brokerUrl, { username: 'jetson-1', password: 'nope', reconnectPeriod: 0 });
    const err = await new Promise<Error & { code?: number }>((resolve) => client.once('error', resolve));
    client.end(true);
    expect([4, 5]).toContain(err.code);
  });

  it('marks a SIGKILLed agent offline through its last will', async () => {
    agents[0].child.kill('SIGKILL');
    await waitFor(() => controller.registry.get('jetson-1')?.online === false, 5000, 'jetson-1 offline');
  });

  it('gives devices their desired state again and asks again for open profiles after Mosquitto is SIGKILLed and restarted', async () => {
    const before = await simDevice('sim-1');
    await waitFor(() => controller.registry.get('sim-1')?.online, 5000, 'sim-1 online');
    await controller.setDesired('sim-1', { model: null });
    const bytes = writeModel(buildYolov8({ scale: 'n', imgsz: 64, nc: 2 }));
    const model = await controller.catalog.addModel(bytes, 'mosq-restart');
    await controller.catalog.importCandidate(model.id, bytes, { method: 'export', declaredMap5095: 0.3, name: 'n64' });
    const rollout = controller.rollouts.create({ model: model.id, targets: { devices: ['sim-1'] }, slo: { minFps: 1 }, profile: { durationS: 1, warmup: 0 } });
    const job = await waitFor(() => before.jobs[0], 10_000, 'the profile job');

    // A crash: no last wills, and with no persistence the new broker holds no retained message.
    mosquitto.kill('SIGKILL');
    await new Promise((r) => mosquitto.once('exit', r));
    before.client.end(true);
    await startMosquitto();
    const after = await simDevice('sim-1');
    await waitFor(() => after.desired.find((d) => d.generation === 1), 10_000, 'the desired state re-published');
    // The registry never saw sim-1 go: only the controller's own reconnect can tell it to ask again.
    expect(controller.registry.get('sim-1')?.online).toBe(true);
    const again = await waitFor(() => after.jobs.find((j) => j.jobId === job.jobId), 10_000, 'the open job sent again');
    expect(again.artifact.sha256).toBe(job.artifact.sha256);
    controller.rollouts.abort(rollout.id);
    after.client.end(true);
  });

  it('stores a desired state set while Mosquitto is down without waiting for it, refuses a job at once, and stops promptly', async () => {
    const artifact = await controller.artifacts.put(writeModel(buildYolov8({ scale: 'n', imgsz: 64, nc: 2 })), { name: 'while-down.onnx' });
    const seen = logs.lines().length;
    mosquitto.kill('SIGKILL');
    await new Promise((r) => mosquitto.once('exit', r));
    await waitFor(() => logs.lines().slice(seen).some((l) => l.msg === 'controller mqtt reconnecting'), 10_000, 'the controller to notice the broker gone');
    const set = await controller.setDesired('sim-1', { model: null });
    expect(logs.lines().find((l) => l.msg === 'desired state set' && l.generation === set.generation)).toMatchObject({ published: false });
    await expect(controller.sendJob('sim-1', { jobId: 'while-down', kind: 'profile', artifact })).rejects.toThrow(/cannot send job while-down: the broker .* is unreachable/);
    await controller.close();
    stopped = true;
  }, 20_000);
});
