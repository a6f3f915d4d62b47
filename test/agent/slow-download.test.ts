// A controller link that trickles (a byte now and then, never quite idle)
// against a real agent: the desired state and other jobs must not wait behind
// it, and the download itself must give up with a reason. The agent fetches
// through a proxy that trickles one artifact and passes everything else to a
// real controller.
import mqtt, { type MqttClient } from 'mqtt';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent } from '../../agent/agent.js';
import { ArtifactCache } from '../../agent/artifacts/cache.js';
import { readInventory } from '../../agent/inventory.js';
import { startController, type Controller } from '../../controller/controller.js';
import { CONTROLLER_USER } from '../../controller/registry.js';
import type { ArtifactRef } from '../../protocol/artifacts.js';
import { encode, type Inventory } from '../../protocol/messages.js';
import { PROTOCOL_VERSION, deviceTopic } from '../../protocol/topics.js';
import { captureLogger } from '../helpers/log.js';
import { waitFor } from '../helpers/wait.js';
import { builtYolov8n } from './models.js';

describe('agent behind a trickling download', () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'edgefit-slow-'));
  const controllerLog = captureLogger();
  const agents: Agent[] = [];
  const trickles = new Set<NodeJS.Timeout>();
  let controller: Controller;
  let proxy: http.Server;
  let proxyUrl: string;
  let raw: MqttClient;
  let inventory: Inventory;
  let good: ArtifactRef;
  let slow: ArtifactRef;
  let cut: ArtifactRef;
  /** Artifacts the proxy trickles, and how many trickling connections are open now and at most. */
  const trickled = new Set<string>();
  let open = 0;
  let mostOpen = 0;
  const requests = new Map<string, number>();

  beforeAll(async () => {
    controller = await startController({ dataDir: path.join(root, 'controller'), mqttPort: 0, httpPort: 0, host: '127.0.0.1', log: controllerLog.log });
    inventory = await readInventory(null);
    good = await controller.artifacts.put(builtYolov8n(root, 64, 0), { name: 'good.onnx' });
    slow = await controller.artifacts.put(randomBytes(200_000), { name: 'slow.onnx' });
    trickled.add(slow.sha256);
    cut = await controller.artifacts.put(randomBytes(200_000), { name: 'cut.onnx' });
    const upstream = new URL(controller.httpUrl);
    proxy = http.createServer((req, res) => {
      const sha = req.url?.startsWith('/artifacts/') ? req.url.slice('/artifacts/'.length) : '';
      if (trickled.has(sha)) {
        // one byte every 100 ms: never idle long enough for an idle timeout
        res.writeHead(200, { 'content-length': String(slow.size) });
        const timer = setInterval(() => res.write(Buffer.alloc(1)), 100);
        trickles.add(timer);
        mostOpen = Math.max(mostOpen, ++open);
        requests.set(sha, (requests.get(sha) ?? 0) + 1);
        res.on('close', () => (clearInterval(timer), open--));
        return;
      }
      if (req.url === `/artifacts/${cut.sha256}`) {
        // two bytes, then the connection drops: every attempt resumes where the last one ended and gains a little
        const from = Number(/^bytes=(\d+)-$/.exec(req.headers.range ?? '')?.[1] ?? 0);
        if (from > 0) res.writeHead(206, { 'content-range': `bytes ${from}-${cut.size - 1}/${cut.size}`, 'content-length': String(cut.size - from) });
        else res.writeHead(200, { 'content-length': String(cut.size) });
        res.write(Buffer.alloc(2), () => res.socket?.destroy());
        return;
      }
      const forward = http.request({ host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers: req.headers }, (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      });
      req.pipe(forward);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    const secret = readFileSync(path.join(root, 'controller', 'controller.secret'), 'utf8').trim();
    raw = mqtt.connect(controller.brokerUrl, { username: CONTROLLER_USER, password: secret, clientId: `slow-${randomBytes(4).toString('hex')}`, reconnectPeriod: 0 });
    await new Promise((resolve, reject) => {
      raw.once('connect', resolve);
      raw.once('error', reject);
    });
  });

  afterAll(async () => {
    await Promise.all(agents.map((a) => a.stop()));
    for (const t of trickles) clearInterval(t);
    proxy?.closeAllConnections();
    await new Promise((resolve) => proxy?.close(resolve));
    raw?.end(true);
    await controller?.close();
    rmSync(root, { recursive: true, force: true });
  });

  /** An agent that fetches through the proxy; `pace` sets its download limits. */
  async function startAgent(id: string, pace: { idleTimeoutMs: number; minBytesPerSecond: number }) {
    const token = controller.registry.add(id);
    const capture = captureLogger();
    const stateDir = path.join(root, `state-${id}`);
    const artifacts = new ArtifactCache({ dir: path.join(stateDir, 'artifacts'), capBytes: 64 * 1024 * 1024, controllerUrl: proxyUrl, deviceId: id, token, publicKeyPem: controller.signingKey.publicKeyPem, log: capture.log, retryDelayMs: 5, attempts: 2, ...pace });
    const agent = Agent.start({ brokerUrl: controller.brokerUrl, id, token, inventory, temperature: async () => null, heartbeatSeconds: 1, keepaliveSeconds: 2, log: capture.log, stateDir, artifacts, healthWindowS: 1 });
    agents.push(agent);
    await waitFor(() => controller.registry.get(id)?.online, 10_000, `${id} online`);
    return capture;
  }

  const publishJob = (id: string, jobId: string, artifact: ArtifactRef) =>
    raw.publishAsync(deviceTopic(id, 'jobs'), encode({ v: PROTOCOL_VERSION, ts: Date.now(), jobId, kind: 'profile', artifact, options: { runs: 1 } }), { qos: 1 });
  const publishDesired = (id: string, generation: number, model: ArtifactRef) =>
    raw.publishAsync(deviceTopic(id, 'desired'), encode({ v: PROTOCOL_VERSION, ts: Date.now(), generation, model }), { qos: 1, retain: true });
  const reported = (id: string, generation: number, state: string) => controllerLog.lines().find((l) => l.msg === 'device reported' && l.device === id && l.generation === generation && l.state === state);

  // Limits loose enough that the trickle never fails during these two cases: only the agent's scheduling is judged.
  const patient = { idleTimeoutMs: 60_000, minBytesPerSecond: 1 };

  it('applies a newer desired state without waiting for the older one to download', async () => {
    const log = await startAgent('newer-wins', patient);
    await publishDesired('newer-wins', 1, slow);
    await waitFor(() => reported('newer-wins', 1, 'downloading'), 10_000, 'gen 1 downloading');
    await publishDesired('newer-wins', 2, good);
    await waitFor(() => reported('newer-wins', 2, 'healthy'), 20_000, 'gen 2 healthy while gen 1 still trickles');
    expect(controller.live.get('newer-wins')?.reported?.activeModel?.sha256).toBe(good.sha256);
    expect(log.lines().some((l) => l.msg === 'desired state superseded while waiting for its model' && l.generation === 1)).toBe(true);
    // nothing else waited for generation 1's model: its download stopped and gave the link back
    await waitFor(() => open === 0, 5000, "generation 1's download stopped");
  });

  it('stops a shared download only when its last waiter withdraws, and keeps what it received', async () => {
    const ref = await controller.artifacts.put(randomBytes(200_000), { name: 'shared.onnx' });
    trickled.add(ref.sha256);
    const dir = path.join(root, 'withdraw');
    const cache = new ArtifactCache({ dir, capBytes: 64 * 1024 * 1024, controllerUrl: proxyUrl, deviceId: 'withdraw', token: controller.registry.add('withdraw'), publicKeyPem: controller.signingKey.publicKeyPem, log: captureLogger().log, retryDelayMs: 5, ...patient });
    const before = open;
    const a = new AbortController();
    const b = new AbortController();
    const first = cache.ensure(ref, a.signal);
    const second = cache.ensure(ref, b.signal);
    await waitFor(() => open === before + 1, 5000, 'one download for both');
    a.abort();
    await expect(first).rejects.toThrow(/no longer waiting/);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(open).toBe(before + 1);
    b.abort();
    await expect(second).rejects.toThrow(/no longer waiting/);
    await waitFor(() => open === before, 5000, 'the download stopped');
    await waitFor(() => statSync(path.join(dir, 'partial', `${ref.sha256}.part`)).size > 0, 5000, 'the bytes received kept for a resume');

    // a caller that comes while a download is stopping gets one of its own, not the stopped one's refusal
    const c = new AbortController();
    cache.ensure(ref, c.signal).catch(() => undefined);
    await waitFor(() => requests.get(ref.sha256) === 2, 5000, 'a second download');
    c.abort();
    // the stop comes a turn after the last waiter leaves (a caller in the same turn would join instead)
    await new Promise((resolve) => setImmediate(resolve));
    let refused: unknown;
    cache.ensure(ref).catch((err: unknown) => (refused = err));
    await waitFor(() => requests.get(ref.sha256) === 3, 5000, 'a third download, for the caller that stays');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(refused).toBeUndefined();
    expect(open).toBe(before + 1);
  });

  it('answers a later job while an earlier one still downloads', async () => {
    await startAgent('jobs-pass', patient);
    await publishJob('jobs-pass', 'first-slow', slow);
    // a ref whose signed manifest names other bytes ends at once, if nothing holds it back
    // (profiling itself runs in a child forked from the built tree: test/agent/jobs.test.ts covers it)
    await publishJob('jobs-pass', 'second-refused', { ...good, sha256: 'f'.repeat(64) });
    const second = await waitFor(() => controller.profiles.get('second-refused', 'jobs-pass'), 10_000, 'the second job answered');
    expect(second).toMatchObject({ ok: false, error: expect.stringMatching(/rejected \(manifest\)/) });
    expect(controller.profiles.get('first-slow', 'jobs-pass')).toBeUndefined();
  });

  it('keeps one download going when a newer desired state names the same model', async () => {
    const ref = await controller.artifacts.put(randomBytes(200_000), { name: 'same.onnx' });
    trickled.add(ref.sha256);
    const log = await startAgent('same-model', patient);
    await publishDesired('same-model', 1, ref);
    await waitFor(() => requests.get(ref.sha256) === 1, 10_000, 'gen 1 downloading');
    await publishDesired('same-model', 2, ref);
    await waitFor(() => reported('same-model', 2, 'downloading'), 10_000, 'gen 2 downloading');
    await new Promise((resolve) => setTimeout(resolve, 500));
    // generation 2 joined the download generation 1 started: no second request, none stopped
    expect(requests.get(ref.sha256)).toBe(1);
    expect(log.lines().some((l) => l.msg === 'desired state superseded while waiting for its model' && l.generation === 1)).toBe(true);
  });

  it('works on two jobs at a time, so that many jobs do not split a slow link until each is too slow', async () => {
    await startAgent('two-at-a-time', patient);
    const more = [];
    for (let i = 0; i < 3; i++) {
      const ref = await controller.artifacts.put(randomBytes(200_000), { name: `slow-${i}.onnx` });
      trickled.add(ref.sha256);
      more.push(ref);
    }
    const before = open;
    mostOpen = open;
    for (const [i, ref] of more.entries()) await publishJob('two-at-a-time', `parallel-${i}`, ref);
    await waitFor(() => open === before + 2, 10_000, 'two downloads running');
    // time for a third to start, were it allowed to
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(mostOpen - before).toBe(2);
  });

  it('gives up on a trickle with the reason, instead of holding the job for ever', async () => {
    // a window well above the 100 ms between bytes: a busy machine must not turn "too slow" into "idle"
    await startAgent('gives-up', { idleTimeoutMs: 1000, minBytesPerSecond: 1000 });
    await publishJob('gives-up', 'trickled', slow);
    const result = await waitFor(() => controller.profiles.get('trickled', 'gives-up'), 15_000, 'the trickled job failed');
    expect(result.ok).toBe(false);
    expect(result.error).toMatch(/failed 2 times without progress: under 1000 bytes\/s for 1 s/);
  });

  it('gives up on a link cut every few bytes, though each attempt gains some', async () => {
    await startAgent('cut-short', { idleTimeoutMs: 300, minBytesPerSecond: 1000 });
    await publishJob('cut-short', 'cut-every-time', cut);
    const result = await waitFor(() => controller.profiles.get('cut-every-time', 'cut-short'), 15_000, 'the cut job failed');
    expect(result.ok).toBe(false);
    expect(result.error).toMatch(/failed 2 times without progress: connection lost after \d+ of 200000 bytes/);
  });
});
