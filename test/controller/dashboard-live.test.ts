import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openDb, type Db } from '../../controller/db.js';
import { sseFrame } from '../../controller/http/events.js';
import { LiveHub } from '../../controller/live/hub.js';
import { SampleRing } from '../../controller/live/sample-ring.js';
import type { LiveBatch } from '../../controller/live/wire.js';
import { LiveStateStore } from '../../controller/profiles.js';
import { Registry } from '../../controller/registry.js';
import type { Heartbeat, Telemetry } from '../../protocol/messages.js';

describe('SampleRing', () => {
  it('keeps one sample per spacing bucket, the newest samples, and thins evenly keeping the newest', () => {
    const ring = new SampleRing(4, 10);
    for (const t of [0, 10, 15, 20, 30, 40]) ring.push(t, t);
    // 15 replaced 10 (same bucket); 0 fell out when 40 arrived.
    expect(ring.since(0)).toEqual([[15, 15], [20, 20], [30, 30], [40, 40]]);
    ring.push(35, 1);
    expect(ring.latest()).toEqual([40, 40]);
    expect(ring.since(25)).toEqual([[30, 30], [40, 40]]);
    // A steady stream faster than the spacing still advances: one point per bucket.
    const steady = new SampleRing(100, 2000);
    for (let t = 0; t < 10_000; t += 1000) steady.push(t, t);
    expect(steady.since(0).map(([t]) => t)).toEqual([1000, 3000, 5000, 7000, 9000]);
    const thin = new SampleRing(100, 0);
    for (let t = 0; t < 100; t++) thin.push(t, t);
    const points = thin.since(0, 10);
    expect(points).toHaveLength(10);
    expect(points[0]).toEqual([0, 0]);
    expect(points[9]).toEqual([99, 99]);
    thin.push(200, Number.NaN);
    expect(thin.latest()).toEqual([99, 99]);
    expect(() => new SampleRing(0, 1)).toThrow(/positive integer/);
  });
});

describe('LiveHub', () => {
  let dir: string;
  let db: Db;
  afterEach(() => {
    db?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const heartbeat = (temperatureC: number | null): Heartbeat => ({ v: 1, ts: Date.now(), uptimeS: 1, agentUptimeS: 1, load1: 0.5, memUsedBytes: 512 * 1024 ** 2, memTotalBytes: 1024 ** 3, temperatureC });
  const telemetry = (fps: number, extra: Partial<Telemetry> = {}): Telemetry => ({ v: 1, ts: Date.now(), fps, latencyP50Ms: 10, latencyP95Ms: 12, memoryMb: 150, temperatureC: 55, throttled: false, modelSha256: 'ab'.repeat(32), errors: 0, ...extra });

  it('coalesces many changes into one row per device per flush, with health and the latest FPS sample', () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'edgefit-live-'));
    db = openDb(dir);
    const registry = new Registry(db);
    registry.add('a');
    registry.add('b');
    const serving = new LiveStateStore();
    let now = 1_000_000;
    const hub = new LiveHub({ registry, serving, flushMs: 60_000, now: () => now, candidateName: (id) => (id === 'c-1' ? 'n96' : undefined) });
    const batches: LiveBatch[] = [];
    hub.subscribe((b) => batches.push(b));

    registry.recordPresence('a', true);
    for (let i = 0; i < 50; i++) registry.recordHeartbeat('a', heartbeat(60));
    serving.recordTelemetry('a', telemetry(20));
    now += 3000;
    serving.recordTelemetry('a', telemetry(25, { throttled: true, errors: 2 }));
    serving.recordReported('a', { v: 1, ts: now, generation: 1, state: 'healthy', activeModel: { sha256: 'ab'.repeat(32), candidateId: 'c-1', generation: 1 }, slo: { met: true, violations: [] } });
    hub.flush();
    expect(batches).toHaveLength(1);
    expect(batches[0].devices.map((d) => d.id)).toEqual(['a']);
    const a = batches[0].devices[0];
    expect(a).toMatchObject({ online: true, fps: 25, candidate: 'n96', throttled: true, health: 'warning', fpsSample: [now, 25] });
    expect(a.healthReason).toMatch(/2 inference errors.*throttling/);

    hub.flush();
    expect(batches).toHaveLength(1);

    const snapshot = hub.snapshot();
    expect(snapshot.devices.map((d) => [d.id, d.health])).toEqual([['a', 'warning'], ['b', 'offline']]);
    expect(snapshot.sparklines.a).toEqual([[now - 3000, 20], [now, 25]]);
    expect(hub.history('a')!.fps).toHaveLength(2);
    expect(hub.history('nobody')).toBeUndefined();

    serving.recordReported('a', { v: 1, ts: now, generation: 2, state: 'rolled-back', activeModel: null, error: 'health check failed', slo: null });
    hub.flush();
    expect(batches[1].devices[0]).toMatchObject({ health: 'failing', healthReason: 'rolled-back: health check failed' });
    hub.close();
  });

  it('frames server-sent events on one data line', () => {
    expect(sseFrame('devices', { a: 'x\ny' })).toBe('event: devices\ndata: {"a":"x\\ny"}\n\n');
  });
});
