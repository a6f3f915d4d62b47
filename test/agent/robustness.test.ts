// Adversarial input against a real agent daemon (in this process, on its
// sources) talking to a real controller: embedded aedes broker, HTTP artifact
// store, onnxruntime serving, real files. Every case checks that the daemon
// stays up, says what went wrong, tells the controller where the protocol
// can, and loses no result.
import mqtt, { type MqttClient } from 'mqtt';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Agent } from '../../agent/agent.js';
import { ArtifactCache } from '../../agent/artifacts/cache.js';
import { readInventory } from '../../agent/inventory.js';
import { syntheticFrame, type FrameSource } from '../../agent/serve/frames.js';
import { signManifest } from '../../controller/artifacts/signing.js';
import { startController, type Controller } from '../../controller/controller.js';
import { CONTROLLER_USER } from '../../controller/registry.js';
import type { ArtifactRef } from '../../protocol/artifacts.js';
import { encode, type DesiredInput, type Inventory, type JobInput } from '../../protocol/messages.js';
import { MAX_PAYLOAD_BYTES, PROTOCOL_VERSION, deviceTopic } from '../../protocol/topics.js';
import { captureLogger } from '../helpers/log.js';
import { waitFor } from '../helpers/wait.js';
import { builtYolov8n, garbageModel } from './models.js';

type LogLine = Record<string, unknown>;

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** A read-only disk (an SD card the kernel remounted read-only) needs a mount: root only. */
const canMount = ((): boolean => {
  if (process.getuid?.() !== 0) return false;
  const probe = mkdtempSync(path.join(os.tmpdir(), 'edgefit-mount-probe-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', probe], { stdio: 'ignore' });
    execFileSync('umount', [probe], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  } finally {
    rmSync(probe, { recursive: true, force: true });
  }
})();

describe('agent daemon against bad input', () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'edgefit-robustness-'));
  const controllerLog = captureLogger();
  const uncaught: Error[] = [];
  const onUncaught = (err: Error) => uncaught.push(err);
  const agents: Agent[] = [];
  let controller: Controller;
  let raw: MqttClient;
  let inventory: Inventory;
  let good: ArtifactRef;
  let other: ArtifactRef;

  beforeAll(async () => {
    process.on('uncaughtException', onUncaught);
    process.on('unhandledRejection', onUncaught);
    controller = await startController({ dataDir: path.join(root, 'controller'), mqttPort: 0, httpPort: 0, host: '127.0.0.1', log: controllerLog.log });
    inventory = await readInventory(null);
    good = await controller.artifacts.put(builtYolov8n(root, 64, 0), { name: 'yolov8n-64.onnx' });
    other = await controller.artifacts.put(builtYolov8n(root, 64, 1), { name: 'yolov8n-64-b.onnx' });
    raw = await rawController();
  });

  afterEach(() => {
    expect(uncaught.map((e) => e.message)).toEqual([]);
  });

  afterAll(async () => {
    await Promise.all(agents.map((a) => a.stop()));
    raw?.end(true);
    await controller?.close();
    process.off('uncaughtException', onUncaught);
    process.off('unhandledRejection', onUncaught);
    rmSync(root, { recursive: true, force: true });
  });

  async function rawController(): Promise<MqttClient> {
    const secret = readFileSync(path.join(root, 'controller', 'controller.secret'), 'utf8').trim();
    const client = mqtt.connect(controller.brokerUrl, { username: CONTROLLER_USER, password: secret, clientId: `robust-${randomBytes(4).toString('hex')}`, reconnectPeriod: 0 });
    await new Promise((resolve, reject) => {
      client.once('connect', resolve);
      client.once('error', reject);
    });
    return client;
  }

  /** An agent on a fresh (or given) state dir with a real artifact cache pointed at the controller. */
  async function startAgent(id: string, stateDir = path.join(root, `state-${id}`), frames?: FrameSource, healthWindowS = 1) {
    const token = controller.registry.add(id);
    const capture = captureLogger();
    const artifacts = new ArtifactCache({
      dir: path.join(stateDir, 'artifacts'),
      capBytes: 64 * 1024 * 1024,
      controllerUrl: controller.httpUrl,
      deviceId: id,
      token,
      publicKeyPem: controller.signingKey.publicKeyPem,
      log: capture.log,
      retryDelayMs: 5,
      attempts: 2,
    });
    const agent = Agent.start({ brokerUrl: controller.brokerUrl, id, token, inventory, temperature: async () => null, heartbeatSeconds: 1, keepaliveSeconds: 2, log: capture.log, stateDir, artifacts, frames, healthWindowS });
    agents.push(agent);
    await waitFor(() => controller.registry.get(id)?.online, 10_000, `${id} online`);
    const logs = (msg: string, jobId?: string): LogLine[] => capture.lines().filter((l) => l.msg === msg && (jobId === undefined || l.jobId === jobId));
    return { agent, logs, lines: capture.lines, stateDir, artifacts };
  }

  const job = (jobId: string, artifact: ArtifactRef): JobInput => ({ v: PROTOCOL_VERSION, ts: Date.now(), jobId, kind: 'profile', artifact, options: { runs: 1 } });
  const publishJob = (id: string, body: JobInput) => raw.publishAsync(deviceTopic(id, 'jobs'), encode(body), { qos: 1 });
  const desired = (generation: number, model: ArtifactRef | null): DesiredInput => ({ v: PROTOCOL_VERSION, ts: Date.now(), generation, model });
  const publishDesired = (id: string, body: DesiredInput) => raw.publishAsync(deviceTopic(id, 'desired'), encode(body), { qos: 1, retain: true });
  const reported = (id: string): LogLine[] => controllerLog.lines().filter((l) => l.msg === 'device reported' && l.device === id);

  /** A ref the controller signed for bytes it does not hold (a candidate it has since lost or never stored). */
  function ghostRef(): ArtifactRef {
    const bytes = randomBytes(1000);
    const manifest = { sha256: sha256(bytes), size: bytes.length, name: 'ghost.onnx', kind: 'model' as const, createdAt: Date.now() };
    return { sha256: manifest.sha256, size: manifest.size, ...signManifest(manifest, controller.signingKey) };
  }

  it('drops malformed, schema-invalid and oversized messages on every topic it subscribes to, and keeps answering', async () => {
    const { agent, logs } = await startAgent('bad-input');
    const jobsTopic = deviceTopic('bad-input', 'jobs');
    const desiredTopic = deviceTopic('bad-input', 'desired');
    const valid = job('valid-shape', good);
    const payloads: Buffer[] = [
      Buffer.from('{"jobId": 12'),
      randomBytes(512),
      Buffer.from('null'),
      Buffer.from('42'),
      Buffer.from('"profile"'),
      Buffer.from('[]'),
      Buffer.from('{}'),
      Buffer.from('['.repeat(200_000) + ']'.repeat(200_000)),
      encode({ ...valid, v: 2 }),
      encode({ ...valid, jobId: '../../etc/passwd' }),
      encode({ ...valid, jobId: 'x'.repeat(129) }),
      encode({ ...valid, kind: 'train' }),
      encode({ ...valid, artifact: { ...good, sha256: good.sha256.toUpperCase() } }),
      encode({ ...valid, artifact: { ...good, manifest: 'm'.repeat(64 * 1024 + 1) } }),
      encode({ ...valid, options: { runs: 0 } }),
      encode({ ...valid, options: { ep: 'npu' } }),
      encode({ ...valid, options: { threads: 1e9 } }),
      // Just under the broker's limit: big, valid JSON, wrong shape.
      encode({ padding: 'p'.repeat(MAX_PAYLOAD_BYTES - 100) }),
    ];
    for (const p of payloads) await raw.publishAsync(jobsTopic, p, { qos: 1 });
    const desiredPayloads: Buffer[] = [
      ...payloads.slice(0, 8),
      encode({ ...desired(1, good), generation: -1 }),
      encode({ ...desired(1, good), generation: 1.5 }),
      encode({ ...desired(1, good), threads: 0 }),
      encode({ ...desired(1, good), slo: { minFps: -1 } }),
      encode({ ...desired(1, good), model: { sha256: 'nope' } }),
    ];
    for (const p of desiredPayloads) await raw.publishAsync(desiredTopic, p, { qos: 1 });
    await waitFor(() => logs('malformed job dropped').length === payloads.length && logs('malformed desired state dropped').length === desiredPayloads.length, 10_000, 'every bad message logged');
    const reasons = logs('malformed job dropped').map((l) => String(l.reason));
    expect(reasons[0]).toBe('payload is not JSON');
    expect(reasons.find((r) => r.startsWith('jobId'))).toBeDefined();
    expect(reasons.find((r) => r.startsWith('artifact.manifest'))).toBeDefined();

    // Over the broker's limit: refused at the broker, never reaches the agent.
    const big = await rawController();
    big.on('error', () => undefined);
    big.publish(jobsTopic, Buffer.alloc(MAX_PAYLOAD_BYTES + 1, 0x7b), { qos: 0 });
    await waitFor(() => controllerLog.lines().some((l) => /over the payload limit|payload over limit/.test(String(l.msg))), 5000, 'the broker refusing the oversized publish');
    big.end(true);

    // Still up, still connected, still answering jobs: a job for a lost artifact comes back as a failed result.
    await controller.sendJob('bad-input', { jobId: 'after-bad-input', kind: 'profile', artifact: ghostRef(), options: { runs: 1 } });
    const result = await waitFor(() => controller.profiles.get('after-bad-input'), 10_000, 'the result after the bad input');
    expect(result.ok).toBe(false);
    expect(result.error).toMatch(/answered 404/);
    expect(agent.client.connected).toBe(true);
    expect(logs('job queued')).toHaveLength(1);
    expect(reported('bad-input')).toEqual([]);
  });

  it('runs a job sent several times once, answers a repeat after it finished from its stored result, and takes jobs in any order', async () => {
    const { logs } = await startAgent('duplicates');
    const ghost = ghostRef();
    const received = (jobId: string) => controllerLog.lines().filter((l) => l.msg === 'profile result' && l.jobId === jobId);
    for (const jobId of ['dup-b', 'dup-a', 'dup-b', 'dup-b', 'dup-a']) await publishJob('duplicates', job(jobId, ghost));
    await waitFor(() => received('dup-a').length > 0 && received('dup-b').length > 0, 10_000, 'both results');
    expect(logs('job queued').map((l) => l.jobId)).toEqual(['dup-b', 'dup-a']);
    // Each copy is either still queued (ignored) or already ran (answered from its result), depending on when it lands.
    await waitFor(() => logs('job already queued; duplicate ignored').length + logs('job already ran; sending its stored result again').length === 3, 5000, 'every copy handled');

    const answered = logs('job already ran; sending its stored result again').length;
    const before = received('dup-a').length;
    await publishJob('duplicates', job('dup-a', ghost));
    await waitFor(() => logs('job already ran; sending its stored result again').length === answered + 1, 10_000, 'the repeat answered from its result');
    await waitFor(() => received('dup-a').length > before, 10_000, 'the repeated result');
    expect(received('dup-a')[0].duplicate).toBe(false);
    expect(received('dup-a').slice(1).every((l) => l.duplicate === true)).toBe(true);
    expect(logs('job queued')).toHaveLength(2);
    expect(controller.profiles.get('dup-a')).toMatchObject({ ok: false, error: expect.stringMatching(/answered 404/) });
  });

  it('turns artifacts that are missing, tampered, truncated or not what was signed into failed results', async () => {
    const { logs } = await startAgent('bad-artifacts');
    const tampered = await controller.artifacts.put(randomBytes(100_000), { name: 'tampered.onnx' });
    const storedTampered = path.join(root, 'controller', 'artifacts', tampered.sha256);
    const bytes = readFileSync(storedTampered);
    bytes[5000] ^= 0xff;
    writeFileSync(storedTampered, bytes);
    const truncated = await controller.artifacts.put(randomBytes(100_000), { name: 'truncated.onnx' });
    const storedTruncated = path.join(root, 'controller', 'artifacts', truncated.sha256);
    writeFileSync(storedTruncated, readFileSync(storedTruncated).subarray(0, 60_000));
    const unsigned = { ...good, signature: Buffer.alloc(64, 1).toString('base64') };

    const cases: Array<[string, ArtifactRef, RegExp]> = [
      ['missing', ghostRef(), /GET \/artifacts\/[0-9a-f]{64} answered 404/],
      ['tampered', tampered, /rejected \(hash\)/],
      ['truncated', truncated, /rejected \(size\)/],
      ['unsigned', unsigned, /rejected \(signature\)/],
    ];
    for (const [name, ref] of cases) await publishJob('bad-artifacts', job(`artifact-${name}`, ref));
    for (const [name, ref, error] of cases) {
      const result = await waitFor(() => controller.profiles.get(`artifact-${name}`), 15_000, `the ${name} result`);
      expect(result, name).toMatchObject({ ok: false, deviceId: 'bad-artifacts', artifactSha256: ref.sha256 });
      expect(result.error, name).toMatch(error);
    }
    expect(logs('job finished').map((l) => l.ok)).toEqual([false, false, false, false]);
    // Nothing half-downloaded or unverified was installed.
    const cache = path.join(root, 'state-bad-artifacts', 'artifacts');
    expect(readdirSync(cache).filter((n) => n !== 'partial')).toEqual([]);
  });

  it('reports a desired model it cannot fetch or load, and keeps serving the previous one', async () => {
    await startAgent('bad-desired');
    await publishDesired('bad-desired', desired(1, ghostRef()));
    const failed = await waitFor(() => reported('bad-desired').find((l) => l.generation === 1 && l.state === 'failed'), 10_000, 'gen 1 failed');
    expect(failed.error).toMatch(/fetching the model failed: .*answered 404/);

    await publishDesired('bad-desired', desired(2, good));
    await waitFor(() => reported('bad-desired').find((l) => l.generation === 2 && l.state === 'healthy'), 20_000, 'gen 2 healthy');

    const garbage = await controller.artifacts.put(readFileSync(garbageModel(root)), { name: 'garbage.onnx' });
    const onnxPrefix = readFileSync(builtYolov8n(root, 64, 2));
    const truncatedOnnx = await controller.artifacts.put(onnxPrefix.subarray(0, Math.floor(onnxPrefix.length / 2)), { name: 'half.onnx' });
    for (const [generation, ref] of [
      [3, ghostRef()],
      [4, garbage],
      [5, truncatedOnnx],
    ] as Array<[number, ArtifactRef]>) {
      await publishDesired('bad-desired', desired(generation, ref));
      const line = await waitFor(() => reported('bad-desired').find((l) => l.generation === generation && (l.state === 'rolled-back' || l.state === 'failed')), 20_000, `gen ${generation} settled`);
      expect(line.state, `gen ${generation}`).toBe('rolled-back');
      expect(String(line.error), `gen ${generation}`).toMatch(/fetching the model failed|failed to load/);
      expect(controller.live.get('bad-desired')?.reported?.activeModel?.sha256, `gen ${generation}`).toBe(good.sha256);
    }
  });

  it('never lets a late, older desired state replace a newer one', async () => {
    // a health check long enough that both late messages surely land inside it, even on a loaded machine
    const { logs, lines } = await startAgent('out-of-order', undefined, undefined, 4);
    await publishDesired('out-of-order', desired(1, good));
    await waitFor(() => reported('out-of-order').find((l) => l.generation === 1 && l.state === 'health-check'), 20_000, 'gen 1 in its health check');
    // Both arrive while generation 1 is still being applied; 2 is late.
    await publishDesired('out-of-order', desired(3, other));
    await publishDesired('out-of-order', desired(2, good));
    await waitFor(() => reported('out-of-order').find((l) => l.generation === 3 && l.state === 'healthy'), 40_000, 'gen 3 healthy');
    expect(reported('out-of-order').filter((l) => l.generation === 2)).toEqual([]);
    expect(logs('stale desired state ignored').map((l) => l.generation)).toEqual([2]);
    // what the test is for: 2 was judged against 3 while 3 still waited behind generation 1
    const at = (test: (l: LogLine) => boolean) => lines().findIndex(test);
    const gen1Done = at((l) => l.msg === 'serving state' && l.generation === 1 && ['healthy', 'rolled-back', 'failed'].includes(String(l.state)));
    expect(at((l) => l.msg === 'stale desired state ignored'), 'the late state came after generation 1 had finished').toBeLessThan(gen1Done);
    expect(controller.live.get('out-of-order')?.reported?.activeModel?.sha256).toBe(other.sha256);
  });

  it('lets go of a model it no longer serves, so the cache may evict it', async () => {
    const pinned = (cache: ArtifactCache, sha: string) => cache.list().find((e) => e.sha256 === sha)?.pinned;
    const stopping = await startAgent('unpin-idle');
    await publishDesired('unpin-idle', desired(1, good));
    await waitFor(() => reported('unpin-idle').find((l) => l.generation === 1 && l.state === 'healthy'), 20_000, 'gen 1 healthy');
    expect(pinned(stopping.artifacts, good.sha256)).toBe(true);
    await publishDesired('unpin-idle', desired(2, null));
    await waitFor(() => reported('unpin-idle').find((l) => l.generation === 2 && l.state === 'idle'), 10_000, 'gen 2 idle');
    expect(pinned(stopping.artifacts, good.sha256)).toBe(false);

    // A camera that delivers one frame (enough to load the model) and then fails: the health check fails.
    let frames = 0;
    const camera: FrameSource = {
      name: 'unplugged camera',
      next: async () => {
        if (frames++ > 0) throw new Error('camera unplugged');
        return syntheticFrame(320, 240, 1);
      },
      close: async () => undefined,
    };
    const unhealthy = await startAgent('unpin-unhealthy', undefined, camera);
    await publishDesired('unpin-unhealthy', desired(1, good));
    const failed = await waitFor(() => reported('unpin-unhealthy').find((l) => l.generation === 1 && l.state === 'failed'), 20_000, 'gen 1 failed');
    expect(failed.error).toMatch(/health check failed: \d+ frame\(s\) failed: camera unplugged/);
    expect(pinned(unhealthy.artifacts, good.sha256)).toBe(false);
  });

  it('keeps the serving model when the frame source fails just as a new one is activated', async () => {
    let unplugged = false;
    const camera: FrameSource = {
      name: 'flaky camera',
      next: async () => {
        if (unplugged) throw new Error('camera unplugged');
        return syntheticFrame(320, 240, 1);
      },
      close: async () => undefined,
    };
    await startAgent('flaky-camera', undefined, camera);
    await publishDesired('flaky-camera', desired(1, good));
    await waitFor(() => reported('flaky-camera').find((l) => l.generation === 1 && l.state === 'healthy'), 20_000, 'gen 1 healthy');
    unplugged = true;
    await publishDesired('flaky-camera', desired(2, other));
    const settled = await waitFor(() => reported('flaky-camera').find((l) => l.generation === 2 && (l.state === 'rolled-back' || l.state === 'failed')), 20_000, 'gen 2 settled');
    expect(settled).toMatchObject({ state: 'rolled-back', error: 'no frame to check the model on: camera unplugged' });
    expect(controller.live.get('flaky-camera').reported?.activeModel?.sha256).toBe(good.sha256);
    // The camera comes back and the model that never stopped serves frames again.
    unplugged = false;
    const before = controller.live.get('flaky-camera').telemetry?.ts ?? 0;
    await waitFor(() => {
      const t = controller.live.get('flaky-camera').telemetry;
      return t && t.ts > before && t.modelSha256 === good.sha256 && t.fps > 0;
    }, 10_000, 'telemetry with frames served');
  });

  it.skipIf(!existsSync('/dev/full'))('still delivers results when the state disk is full, and answers their repeats without running them again', async () => {
    const { logs, stateDir } = await startAgent('disk-full');
    // Every write of this job's result lands on /dev/full (ENOSPC), as it would on a full SD card.
    mkdirSync(path.join(stateDir, 'results'), { recursive: true });
    symlinkSync('/dev/full', path.join(stateDir, 'results', 'full-1.json.tmp'));
    const ref = ghostRef();
    await publishJob('disk-full', job('full-1', ref));
    const result = await waitFor(() => controller.profiles.get('full-1'), 10_000, 'the result despite the full disk');
    expect(result.ok).toBe(false);
    expect(logs('cannot store the result on disk; holding it in memory until delivered (lost if the agent restarts first)', 'full-1')).toHaveLength(1);

    const received = () => controllerLog.lines().filter((l) => l.msg === 'profile result' && l.jobId === 'full-1');
    await publishJob('disk-full', job('full-1', ref));
    await waitFor(() => received().length === 2, 10_000, 'the repeated result');
    expect(received()[1].duplicate).toBe(true);
    expect(logs('job queued', 'full-1')).toHaveLength(1);
  });

  describe.skipIf(!canMount)('on a state disk remounted read-only (needs root to mount a tmpfs)', () => {
    const disk = path.join(root, 'read-only-disk');

    afterAll(() => {
      try {
        execFileSync('umount', [disk], { stdio: 'ignore' });
      } catch {
        // never mounted
      }
    });

    it('comes up, delivers what its outbox holds, serves its cached model and reports every new result', async () => {
      mkdirSync(disk, { recursive: true });
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=16m', 'tmpfs', disk]);
      const outbox = path.join(disk, 'outbox');
      mkdirSync(outbox, { recursive: true });
      const before = { v: PROTOCOL_VERSION, ts: Date.now(), jobId: 'ro-before', deviceId: 'read-only', kind: 'profile', artifactSha256: good.sha256, ok: false, error: 'finished before the disk failed' };
      writeFileSync(path.join(outbox, 'ro-before.json'), JSON.stringify(before));
      writeFileSync(path.join(outbox, 'ro-torn.json'), '{"v":1,"jobId":');
      const cache = path.join(disk, 'artifacts');
      mkdirSync(path.join(cache, 'partial'), { recursive: true });
      copyFileSync(builtYolov8n(root, 64, 0), path.join(cache, `${good.sha256}.onnx`));
      writeFileSync(path.join(cache, `${good.sha256}.json`), JSON.stringify(good));
      writeFileSync(path.join(cache, `${other.sha256}.json.tmp`), 'a sidecar cut short by the failure');
      execFileSync('mount', ['-o', 'remount,ro', disk]);

      const { agent, logs } = await startAgent('read-only', disk);
      const mounted = execFileSync('mount').toString().split('\n').find((l) => l.includes(disk));
      expect(logs('cannot delete a leftover in the artifact cache; left in place'), `cache holds ${readdirSync(path.join(disk, 'artifacts')).join(', ')}; ${mounted}`).toHaveLength(1);
      const delivered = await waitFor(() => controller.profiles.get('ro-before'), 10_000, 'the result the outbox held');
      expect(delivered.error).toBe('finished before the disk failed');
      await waitFor(() => logs('cannot move the unreadable result aside; skipping it').length === 1, 5000, 'the torn result skipped');
      // The controller holds the result before the agent reads its PUBACK and tries to delete the file.
      await waitFor(() => logs('delivered result cannot leave the outbox; it goes out again after a restart', 'ro-before').length === 1, 5000, 'the stuck file logged');

      // A model it must download cannot land on the disk: a failed result that says why, delivered from memory.
      await publishJob('read-only', job('ro-new', other));
      const failed = await waitFor(() => controller.profiles.get('ro-new'), 10_000, 'the new job result');
      expect(failed.ok).toBe(false);
      expect(failed.error).toMatch(/read-only file system/);

      // The model it already holds still serves.
      await publishDesired('read-only', desired(1, good));
      await waitFor(() => reported('read-only').find((l) => l.generation === 1 && l.state === 'healthy'), 20_000, 'the cached model healthy');

      // Reconnecting flushes the outbox again: the stuck file is not sent twice, the torn one not retried.
      const receivedBefore = controllerLog.lines().filter((l) => l.msg === 'profile result' && l.jobId === 'ro-before').length;
      agent.client.stream.destroy();
      await waitFor(() => logs('agent connected').length === 2, 10_000, 'the reconnect');
      await waitFor(() => reported('read-only').filter((l) => l.generation === 1 && l.state === 'healthy').length >= 2, 10_000, 'the state republished');
      expect(controllerLog.lines().filter((l) => l.msg === 'profile result' && l.jobId === 'ro-before')).toHaveLength(receivedBefore);
      expect(logs('cannot move the unreadable result aside; skipping it')).toHaveLength(1);
    });
  });
});
