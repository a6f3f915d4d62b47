import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startController, type Controller } from '../../controller/controller.js';
import { openDb, type Db } from '../../controller/db.js';
import { PUSHED_EVENTS, RolloutFeed } from '../../controller/live/rollout-feed.js';
import type { RolloutsBatch } from '../../controller/live/wire.js';
import { LiveStateStore } from '../../controller/profiles.js';
import { rolloutStatus } from '../../controller/rollout/status.js';
import { validateSpec } from '../../controller/rollout/spec.js';
import { RolloutStore } from '../../controller/rollout/store.js';
import { writeModel } from '../../compress/onnx/write.js';
import { buildYolov8 } from '../../compress/yolo/builder.js';
import { captureLogger } from '../helpers/log.js';
import { waitFor } from '../helpers/wait.js';

const spec = (devices: string[]) => validateSpec({ model: 'm-1', targets: { devices }, slo: { maxP95Ms: 100 } });

describe('RolloutStore change notification and RolloutFeed', () => {
  let dir: string;
  let db: Db;
  afterEach(() => {
    db?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('names every written rollout, and the feed sends one summary per changed rollout per flush', () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'edgefit-rollout-feed-'));
    db = openDb(dir);
    const store = new RolloutStore(db);
    const heard: string[] = [];
    const off = store.onChange((id) => heard.push(id));
    const a = store.create(spec(['d1', 'd2']), [{ deviceId: 'd1', deviceClass: 'c', stage: 0 }, { deviceId: 'd2', deviceClass: 'c', stage: 1 }]);
    const b = store.create(spec(['d1']), [{ deviceId: 'd1', deviceClass: 'c', stage: 0 }]);
    store.transition(a.id, 'd1', 'profiling');
    store.addMeasurement(a.id, { deviceClass: 'c', candidateId: 'x', jobId: 'job-1', deviceId: 'd1', sentAt: 1 });
    expect(store.setOutcome('job-1', { ok: false, error: 'no' })).toBe(true);
    expect(store.setOutcome('job-1', { ok: false, error: 'again' })).toBe(false);
    store.patch(a.id, 'd2', { generation: 3 });
    store.setStage(a.id, 1);
    store.setState(b.id, 'paused', null, ['running']);
    expect(heard).toEqual([a.id, b.id, a.id, a.id, a.id, a.id, a.id, b.id]);
    expect(store.rolloutsOf('d1').sort()).toEqual([a.id, b.id].sort());
    off();

    const serving = new LiveStateStore();
    const summarized: Array<[string, number]> = [];
    const feed = new RolloutFeed({
      store,
      serving,
      flushMs: 60_000,
      now: () => 42,
      summarize: (id, events) => {
        summarized.push([id, events]);
        const r = store.get(id);
        return r && { ...r, devices: [], classes: [], events: store.events(id, events) };
      },
    });
    // Nobody listens: writes are not even collected.
    store.setState(b.id, 'running', null, ['paused']);
    const batches: RolloutsBatch[] = [];
    const unsubscribe = feed.subscribe((batch) => batches.push(batch));
    feed.flush();
    expect(batches).toEqual([]);

    // A burst of writes to one rollout is one summary, in one batch.
    store.setState(a.id, 'paused', null, ['running']);
    store.setState(a.id, 'running', null, ['paused']);
    store.transition(a.id, 'd1', 'offline');
    // Telemetry alone does not touch rollouts; a new reported state touches the device's rollouts.
    serving.recordTelemetry('d2', { v: 1, ts: 1, fps: 9, latencyP50Ms: 1, latencyP95Ms: 2, memoryMb: 3, temperatureC: null, throttled: false, modelSha256: 'ab'.repeat(32), errors: 0 });
    feed.flush();
    expect(batches).toHaveLength(1);
    expect(batches[0].serverTime).toBe(42);
    expect(batches[0].rollouts.map((r) => [r.id, r.state])).toEqual([[a.id, 'running']]);
    expect(summarized.at(-1)).toEqual([a.id, PUSHED_EVENTS]);
    serving.recordReported('d1', { v: 1, ts: 2, generation: 1, state: 'idle', activeModel: null, slo: null });
    feed.flush();
    expect(batches[1].rollouts.map((r) => r.id).sort()).toEqual([a.id, b.id].sort());
    feed.flush();
    expect(batches).toHaveLength(2);

    unsubscribe();
    store.setState(a.id, 'paused', null, ['running']);
    feed.flush();
    expect(batches).toHaveLength(2);
    feed.close();
  });
});

/** Reads a Server-Sent Events stream into frames as they arrive. */
function readEvents(body: ReadableStream<Uint8Array>): Array<{ event: string; data: unknown }> {
  const frames: Array<{ event: string; data: unknown }> = [];
  const decoder = new TextDecoder();
  let buffer = '';
  void (async () => {
    for await (const chunk of body) {
      buffer += decoder.decode(chunk, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const raw = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = /^event: (.+)$/m.exec(raw)?.[1];
        const data = /^data: (.+)$/m.exec(raw)?.[1];
        if (event && data) frames.push({ event, data: JSON.parse(data) });
      }
    }
  })().catch(() => undefined);
  return frames;
}

describe('GET /api/events pushes rollout changes', () => {
  let dataDir: string;
  let controller: Controller;
  let modelId = '';
  const abort = new AbortController();

  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'edgefit-rollout-sse-'));
    controller = await startController({ dataDir, mqttPort: 0, httpPort: 0, host: '127.0.0.1', log: captureLogger().log });
    // Registered but never connected: the rollout waits on it, so only the test's actions write.
    controller.registry.add('cam-9');
    modelId = (await controller.catalog.addModel(writeModel(buildYolov8({ scale: 'n', imgsz: 64, nc: 2 })), 'sse-yolo')).id;
    await controller.catalog.importCandidate(modelId, writeModel(buildYolov8({ scale: 'n', imgsz: 64, nc: 2, seed: 1 })), { method: 'builder', declaredMap5095: 0.2, name: 'n64' });
  });

  afterAll(async () => {
    abort.abort();
    await controller?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const post = async (p: string, body: unknown) => {
    const res = await fetch(controller.httpUrl + p, { method: 'POST', headers: { authorization: `Bearer ${controller.adminToken}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const json = (await res.json()) as { id: string; state: string; message?: string };
    expect(res.status, json.message).toBeLessThan(300);
    return json;
  };

  it('sends a `rollouts` event, shaped like GET /api/rollouts/:id, when a rollout is created, paused, or changed in a burst', async () => {
    const res = await fetch(`${controller.httpUrl}/api/events?token=${controller.adminToken}`, { signal: abort.signal });
    expect(res.status).toBe(200);
    const frames = readEvents(res.body!);
    await waitFor(() => frames.some((f) => f.event === 'snapshot'), 10_000, 'the snapshot');
    const rolloutFrames = () => frames.filter((f) => f.event === 'rollouts').map((f) => f.data as RolloutsBatch);

    const created = await post('/api/rollouts', { name: 'sse', model: modelId, targets: { devices: ['cam-9'] }, slo: { maxP95Ms: 500 } });
    const first = await waitFor(() => rolloutFrames().find((b) => b.rollouts.some((r) => r.id === created.id)), 10_000, 'a rollouts event for the new rollout');
    const pushed = first.rollouts.find((r) => r.id === created.id)!;
    const deps = { store: controller.rolloutStore, catalog: controller.catalog, live: controller.live };
    expect(pushed).toEqual(JSON.parse(JSON.stringify(rolloutStatus(deps, created.id, { events: PUSHED_EVENTS }))));
    expect(pushed).toMatchObject({ state: 'running', spec: { name: 'sse' }, devices: [{ deviceId: 'cam-9', state: 'pending' }] });

    const before = rolloutFrames().length;
    await post(`/api/rollouts/${created.id}/pause`, {});
    const paused = await waitFor(() => rolloutFrames().slice(before).find((b) => b.rollouts.some((r) => r.id === created.id && r.state === 'paused')), 10_000, 'a rollouts event saying paused');
    expect(paused.rollouts.find((r) => r.id === created.id)!.events.at(-1)).toMatchObject({ from: 'running', to: 'paused' });

    // A burst: resume, pause, resume and a device going offline in one go reach the stream as one frame.
    const burst = rolloutFrames().length;
    controller.rollouts.resume(created.id);
    controller.rollouts.pause(created.id);
    controller.rollouts.resume(created.id);
    controller.rolloutStore.transition(created.id, 'cam-9', 'offline', {}, 'test: offline');
    const last = await waitFor(() => rolloutFrames().slice(burst).find((b) => b.rollouts.some((r) => r.id === created.id && r.devices[0].state === 'offline')), 10_000, 'the burst');
    const mine = rolloutFrames()
      .slice(burst)
      .filter((b) => b.rollouts.some((r) => r.id === created.id));
    expect(mine).toEqual([last]);
    expect(last.rollouts.find((r) => r.id === created.id)).toMatchObject({ state: 'running' });
  });
});
