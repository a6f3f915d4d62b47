// A device whose broker crashed leaves no last will: the registry takes a
// device silent for three of its heartbeat periods as offline (never under
// 15 s; a minute a period for one that never said its period), on a real
// SQLite file.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDb, type Db } from '../../controller/db.js';
import { isSilent, silenceLimitMs } from '../../controller/liveness.js';
import { Registry, type Device } from '../../controller/registry.js';
import type { Heartbeat, Inventory } from '../../protocol/messages.js';
import { PROTOCOL_VERSION } from '../../protocol/topics.js';

const INVENTORY: Inventory = { hostname: 'pi', cpuModel: 'Cortex-A72', cpuCores: 4, cpuPhysicalCores: 4, arch: 'arm64', memTotalBytes: 4 * 1024 ** 3, os: 'Debian GNU/Linux 12', kernel: '6.6', boardModel: null, gpus: [], executionProviders: ['cpu'], onnxruntimeVersion: '1.30.0', edgefitVersion: '0.1.0' };

function heartbeat(ts: number, intervalS?: number): Heartbeat {
  return { v: PROTOCOL_VERSION, ts, uptimeS: 100, agentUptimeS: 10, load1: 0.5, memUsedBytes: 1e9, memTotalBytes: 4e9, temperatureC: 50, ...(intervalS === undefined ? {} : { intervalS }) };
}

describe('silence', () => {
  it('is three heartbeat periods, never under 15 s, three minutes for a device that never said its period', () => {
    expect([silenceLimitMs(1), silenceLimitMs(2), silenceLimitMs(10), silenceLimitMs(59), silenceLimitMs(undefined)]).toEqual([15_000, 15_000, 30_000, 177_000, 180_000]);
    expect(isSilent({ lastSeen: 1000, heartbeat: null }, 181_001)).toBe(true);
    expect(isSilent({ lastSeen: 1000, heartbeat: null }, 181_000)).toBe(false);
    expect(isSilent({ lastSeen: null, heartbeat: null }, 1_800_000_000_000)).toBe(true);
  });
});

describe('the registry takes a silent device as offline', () => {
  let dir: string;
  let db: Db;
  let registry: Registry;
  const t0 = 1_800_000_000_000;

  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'edgefit-liveness-'));
    db = openDb(dir);
    registry = new Registry(db);
    for (const id of ['fast', 'slow', 'quiet']) {
      registry.add(id);
      registry.recordHello(id, { v: PROTOCOL_VERSION, ts: t0, inventory: INVENTORY, deviceClass: 'aaaaaaaaaaaaaaaa' }, t0);
    }
    registry.recordHeartbeat('fast', heartbeat(t0, 2), t0);
    registry.recordHeartbeat('slow', heartbeat(t0, 30), t0);
  });

  afterEach(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('after three of its heartbeat periods, never under 15 s, a minute a period when it never said', () => {
    const changed: Device[] = [];
    registry.onChange((d) => changed.push(d));
    const offline = (now: number) => registry.markSilentOffline(now).map((d) => d.id);
    expect(offline(t0 + 14_000)).toEqual([]);
    expect(offline(t0 + 16_000)).toEqual(['fast']);
    expect(offline(t0 + 89_000)).toEqual([]);
    expect(offline(t0 + 91_000)).toEqual(['slow']);
    expect(offline(t0 + 179_000)).toEqual([]);
    expect(offline(t0 + 181_000)).toEqual(['quiet']);
    expect(changed.map((d) => [d.id, d.online])).toEqual([['fast', false], ['slow', false], ['quiet', false]]);
    expect(registry.list().every((d) => !d.online)).toBe(true);
  });

  it('takes a kept (retained) online presence as old news: back online only if heard from lately, and not as heard from now', () => {
    registry.markAllOffline();
    expect(registry.recordPresence('fast', true, t0 + 10_000, true)).toMatchObject({ online: true, lastSeen: t0 });
    expect(registry.recordPresence('quiet', true, t0 + 200_000, true)).toMatchObject({ online: false, lastSeen: t0 });
    // a presence that comes live is news
    expect(registry.recordPresence('quiet', true, t0 + 200_000)).toMatchObject({ online: true, lastSeen: t0 + 200_000 });
  });

  it('leaves a device that keeps beating alone, and takes it back at its next heartbeat', () => {
    for (let t = t0; t <= t0 + 60_000; t += 2000) registry.recordHeartbeat('fast', heartbeat(t, 2), t);
    expect(registry.markSilentOffline(t0 + 70_000).map((d) => d.id)).toEqual([]);
    expect(registry.markSilentOffline(t0 + 80_000).map((d) => d.id)).toEqual(['fast']);
    registry.recordHeartbeat('fast', heartbeat(t0 + 81_000, 2), t0 + 81_000);
    expect(registry.get('fast')!.online).toBe(true);
  });
});
