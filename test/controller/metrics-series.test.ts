// The pure pieces of GET /metrics: which devices get per-device series (the
// cardinality bound, offline and removed devices, stale telemetry), the class
// fold, the kind of a refused payload, the scrape-time gauges over a real
// prom-client registry and a real SQLite file, and the scrape token's rules.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { validMessages } from '../../bench/fuzz/device-messages.js';
import { openDb } from '../../controller/db.js';
import { deviceDispatcher, type DeviceHandlers } from '../../controller/device-dispatch.js';
import { TELEMETRY_STALE_MS } from '../../controller/live/device-row.js';
import type { LiveDevice } from '../../controller/live/wire.js';
import { deviceSamples, devicesByClass, devicesByState } from '../../controller/metrics/device-series.js';
import { fleetCounters } from '../../controller/metrics/counters.js';
import { registerFleetGauges } from '../../controller/metrics/fleet-gauges.js';
import { ControllerMetrics } from '../../controller/metrics/metrics.js';
import { schemaRejection } from '../../controller/metrics/reasons.js';
import { registerRolloutGauges } from '../../controller/metrics/rollout-gauges.js';
import { validateSpec } from '../../controller/rollout/spec.js';
import { RolloutStore } from '../../controller/rollout/store.js';
import { loadMetricsToken } from '../../controller/secrets.js';
import { Telemetry } from '../../protocol/messages.js';
import { parseExposition, samplesOf } from './metrics-text.js';

const NOW = Date.UTC(2026, 11, 7, 12, 0, 0);

function row(id: string, over: Partial<LiveDevice> = {}): LiveDevice {
  return {
    id,
    deviceClass: null,
    labels: {},
    online: true,
    lastSeen: NOW,
    hardware: null,
    candidate: null,
    ep: null,
    fps: null,
    app: null,
    latencyP95Ms: null,
    decodeMs: null,
    inferenceMs: null,
    source: null,
    memoryMb: null,
    deviceMemUsedMb: null,
    deviceMemTotalMb: null,
    temperatureC: null,
    throttled: null,
    health: 'idle',
    healthReason: '',
    fpsSample: null,
    ...over,
  };
}

/** A device serving `fps`, its latest telemetry received `ageMs` before NOW. */
const serving = (id: string, fps: number, ageMs = 1000, over: Partial<LiveDevice> = {}): LiveDevice =>
  row(id, { candidate: 'n320', fps, latencyP95Ms: 40, temperatureC: 55, throttled: false, health: 'ok', fpsSample: [NOW - ageMs, fps], ...over });

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const tmp = (): string => {
  const d = mkdtempSync(path.join(os.tmpdir(), 'edgefit-metrics-'));
  dirs.push(d);
  return d;
};

describe('per-device series', () => {
  it('go to at most `limit` online devices, the first in id order, and count the rest as omitted', () => {
    const onlineIds = ['pi-07', 'cam-2', 'jet-1', 'pi-01', 'cam-10', 'zz-9', 'a-1'];
    const offlineIds = ['aa-0', 'b-0', 'c-0'];
    const rows = [...onlineIds.map((id, i) => serving(id, i + 1)), ...offlineIds.map((id) => row(id, { online: false, health: 'offline' }))];
    const limit = 4;
    const { samples, omitted } = deviceSamples(rows, NOW, limit);
    const expected = [...onlineIds].sort().slice(0, limit);
    expect(samples.map((s) => s.device)).toEqual(expected);
    expect(omitted).toBe(onlineIds.length - limit);
    // the same devices whatever order the rows come in: no series flaps between scrapes
    expect(deviceSamples([...rows].reverse(), NOW, limit).samples.map((s) => s.device)).toEqual(expected);
    // under the bound: every online device, none omitted, no offline one
    const all = deviceSamples(rows, NOW, 100);
    expect(all.samples.map((s) => s.device)).toEqual([...onlineIds].sort());
    expect(all.omitted).toBe(0);
    expect(deviceSamples(rows, NOW, 0)).toEqual({ samples: [], omitted: onlineIds.length });
  });

  it('carry serving figures only while telemetry is fresh, and the heartbeat temperature of a device that never served', () => {
    const fresh = serving('fresh', 12.5, TELEMETRY_STALE_MS);
    const stale = serving('stale', 12.5, TELEMETRY_STALE_MS + 1);
    const idle = row('idle', { temperatureC: 41 });
    const [a, b, c] = deviceSamples([fresh, stale, idle], NOW).samples.sort((x, y) => ['fresh', 'stale', 'idle'].indexOf(x.device) - ['fresh', 'stale', 'idle'].indexOf(y.device));
    expect(a).toEqual({ device: 'fresh', candidate: 'n320', fps: 12.5, p95Ms: 40, temperatureC: 55, throttled: false, health: 'ok' });
    expect(b).toEqual({ device: 'stale', candidate: 'n320', fps: null, p95Ms: null, temperatureC: null, throttled: null, health: 'ok' });
    expect(c).toEqual({ device: 'idle', candidate: '', fps: null, p95Ms: null, temperatureC: 41, throttled: null, health: 'idle' });
  });

  it('count devices by state and fold small classes into "other"', () => {
    const rows = [
      ...['a1', 'a2', 'a3'].map((id) => row(id, { deviceClass: 'aaaaaaaaaaaaaaaa' })),
      ...['b1', 'b2'].map((id) => row(id, { deviceClass: 'bbbbbbbbbbbbbbbb', online: false })),
      row('c1', { deviceClass: 'cccccccccccccccc' }),
      row('d1', { deviceClass: 'dddddddddddddddd' }),
      row('new', { deviceClass: null }),
    ];
    expect(devicesByState(rows)).toEqual({ online: 6, offline: 2 });
    // largest first, ties by name: a (3), b (2), then c, d, unknown (1 each)
    expect(devicesByClass(rows, 2)).toEqual([
      ['aaaaaaaaaaaaaaaa', 3],
      ['bbbbbbbbbbbbbbbb', 2],
      ['other', 3],
    ]);
    expect(devicesByClass(rows, 10)).toEqual([
      ['aaaaaaaaaaaaaaaa', 3],
      ['bbbbbbbbbbbbbbbb', 2],
      ['cccccccccccccccc', 1],
      ['dddddddddddddddd', 1],
      ['unknown', 1],
    ]);
    const total = devicesByClass(rows, 1).reduce((n, [, c]) => n + c, 0);
    expect(total).toBe(rows.length);
  });
});

describe('the kind of a refused payload', () => {
  const t = validMessages('pi-a', NOW).telemetry as Record<string, unknown>;
  const kind = (message: unknown) => schemaRejection(Telemetry, Buffer.from(typeof message === 'string' ? message : JSON.stringify(message)));

  it('is out-of-range for a number past its physical bound, schema for anything else', () => {
    expect(Telemetry.safeParse(t).success).toBe(true);
    expect(kind({ ...t, fps: 1e308 })).toBe('out-of-range');
    expect(kind({ ...t, temperatureC: -1e308 })).toBe('out-of-range');
    expect(kind({ ...t, errors: -1 })).toBe('out-of-range');
    expect(kind('not json')).toBe('schema');
    expect(kind({ ...t, fps: 'fast' })).toBe('schema');
    expect(kind({ ...t, fps: undefined })).toBe('schema');
    // a string too long is no number out of range
    expect(kind({ ...t, sourceError: 'x'.repeat(300) })).toBe('schema');
  });
});

describe('scrape-time gauges', () => {
  it('drop a device that went offline or was removed at the next scrape', async () => {
    const registry = new Registry();
    let rows: LiveDevice[] = [serving('cam-1', 9), serving('cam-2', 4, 1000, { throttled: true })];
    registerFleetGauges(registry, { view: () => ({ serverTime: NOW, devices: rows }), deviceLimit: 10 });
    let s = parseExposition(await registry.metrics());
    expect(samplesOf(s, 'edgefit_device_fps').map((x) => [x.labels.device, x.labels.candidate, x.value])).toEqual([
      ['cam-1', 'n320', 9],
      ['cam-2', 'n320', 4],
    ]);
    expect(samplesOf(s, 'edgefit_device_latency_p95_seconds', { device: 'cam-1' })[0].value).toBe(0.04);
    expect(samplesOf(s, 'edgefit_device_throttled').map((x) => x.value)).toEqual([0, 1]);
    expect(samplesOf(s, 'edgefit_device_health', { device: 'cam-1' }).map((x) => x.labels.health)).toEqual(['ok']);

    rows = [row('cam-1', { online: false, health: 'offline', lastSeen: NOW - 5000 })]; // cam-1 offline, cam-2 removed
    s = parseExposition(await registry.metrics());
    for (const name of ['edgefit_device_fps', 'edgefit_device_latency_p95_seconds', 'edgefit_device_temperature_celsius', 'edgefit_device_throttled', 'edgefit_device_health']) {
      expect(samplesOf(s, name), name).toEqual([]);
    }
    expect(samplesOf(s, 'edgefit_devices').map((x) => [x.labels.state, x.value])).toEqual([
      ['online', 0],
      ['offline', 1],
    ]);
  });

  it('say how many devices are past the bound, and warn once when the bound starts to bite', async () => {
    const lines: string[] = [];
    const log = pino({ level: 'info' }, { write: (l: string) => void lines.push(l) });
    const dir = tmp();
    const db = openDb(dir);
    try {
      const metrics = new ControllerMetrics({ db, log, deviceSeriesLimit: 2 });
      let rows = ['d1', 'd2', 'd3', 'd4', 'd5'].map((id) => serving(id, 3));
      metrics.watchFleet(() => ({ serverTime: NOW, devices: rows }));
      for (let i = 0; i < 3; i++) {
        const s = parseExposition((await metrics.scrape()).body);
        expect(samplesOf(s, 'edgefit_device_fps').map((x) => x.labels.device)).toEqual(['d1', 'd2']);
        expect(samplesOf(s, 'edgefit_metrics_devices_omitted')[0].value).toBe(3);
        expect(samplesOf(s, 'edgefit_devices', { state: 'online' })[0].value).toBe(5);
      }
      rows = rows.slice(0, 2);
      expect(samplesOf(parseExposition((await metrics.scrape()).body), 'edgefit_metrics_devices_omitted')[0].value).toBe(0);
      const messages = lines.map((l) => (JSON.parse(l) as { msg: string }).msg);
      expect(messages.filter((m) => m.includes('per-device series bound'))).toHaveLength(1);
      expect(messages.filter((m) => m.includes('has its per-device series again'))).toHaveLength(1);
    } finally {
      db.close();
    }
  });

  it('count rollouts by state and the devices of active ones by stage and state, from SQLite', async () => {
    const dir = tmp();
    const db = openDb(dir);
    try {
      const store = new RolloutStore(db);
      const registry = new Registry();
      registerRolloutGauges(registry, db);
      const spec = validateSpec({ model: 'm', slo: { minFps: 1 }, retries: 1 });
      const a = store.create(spec, [
        { deviceId: 'd1', deviceClass: 'c', stage: 0 },
        { deviceId: 'd2', deviceClass: 'c', stage: 1 },
        { deviceId: 'd3', deviceClass: 'c', stage: 1 },
      ]);
      const b = store.create(spec, [{ deviceId: 'd4', deviceClass: 'c', stage: 0 }]);
      store.transition(a.id, 'd1', 'profiling');
      store.setStage(a.id, 1);
      store.setState(b.id, 'aborted', 'operator', ['running']);
      const s = parseExposition(await registry.metrics());
      expect(Object.fromEntries(samplesOf(s, 'edgefit_rollouts').map((x) => [x.labels.state, x.value]))).toEqual({ running: 1, paused: 0, completed: 0, aborted: 1 });
      expect(samplesOf(s, 'edgefit_rollout_stage').map((x) => [x.labels.rollout, x.labels.state, x.value])).toEqual([[a.id, 'running', 1]]);
      expect(samplesOf(s, 'edgefit_rollout_devices').map((x) => [x.labels.rollout, x.labels.stage, x.labels.state, x.value]).sort()).toEqual([
        [a.id, '0', 'profiling', 1],
        [a.id, '1', 'pending', 2],
      ]);
    } finally {
      db.close();
    }
  });
});

describe('the scrape token', () => {
  it('is made once in the data folder, beside admin.token, and EDGEFIT_METRICS_TOKEN overrides it', () => {
    const dir = tmp();
    const first = loadMetricsToken(dir, 'admin-token-of-32-characters-xx', {});
    expect(first.length).toBeGreaterThanOrEqual(16);
    expect(readFileSync(path.join(dir, 'metrics.token'), 'utf8').trim()).toBe(first);
    expect(loadMetricsToken(dir, 'admin-token-of-32-characters-xx', {})).toBe(first);
    expect(loadMetricsToken(dir, 'admin-token-of-32-characters-xx', { EDGEFIT_METRICS_TOKEN: 'from-the-secret-store-123' })).toBe('from-the-secret-store-123');
  });

  it('refuses an override that is short or is the admin token, with one line', () => {
    const dir = tmp();
    expect(() => loadMetricsToken(dir, 'admin-token-of-32-characters-xx', { EDGEFIT_METRICS_TOKEN: 'short' })).toThrow(/^EDGEFIT_METRICS_TOKEN is 5 characters: use at least 16/);
    expect(() => loadMetricsToken(dir, 'admin-token-of-32-characters-xx', { EDGEFIT_METRICS_TOKEN: 'admin-token-of-32-characters-xx' })).toThrow(/is the admin token/);
  });
});

describe('the intake counts what it refuses', () => {
  it('by reason, through the real dispatcher and counters', async () => {
    const registry = new Registry();
    const counters = fleetCounters(registry);
    const handed: string[] = [];
    const handlers = Object.fromEntries(Object.keys(validMessages('pi-a', NOW)).map((c) => [c, () => void handed.push(c)])) as unknown as DeviceHandlers;
    const handle = deviceDispatcher(handlers, { isRegistered: (id) => id === 'pi-a', log: pino({ level: 'silent' }), now: () => NOW, counters });
    const v = validMessages('pi-a', NOW);
    const send = (id: string, channel: string, message: unknown) => handle(`edgefit/v1/devices/${id}/${channel}`, Buffer.from(typeof message === 'string' ? message : JSON.stringify(message)), false);
    send('pi-a', 'telemetry', v.telemetry);
    send('pi-a', 'telemetry', { ...v.telemetry, fps: 1e308 });
    send('pi-a', 'heartbeat', { ...v.heartbeat, temperatureC: 900 });
    send('pi-a', 'telemetry', '{');
    send('pi-a', 'hello', { ...v.hello, deviceClass: 'not a class' });
    send('pi-a', 'heartbeat', { ...v.heartbeat, ts: Date.UTC(2019, 0, 1) });
    send('stranger', 'heartbeat', v.heartbeat);
    send('pi-a', 'desired', {}); // the controller's own channel: no device message, not counted
    expect(handed).toEqual(['telemetry']);
    const s = parseExposition(await registry.metrics());
    const rejected = Object.fromEntries(samplesOf(s, 'edgefit_mqtt_messages_rejected_total').map((x) => [x.labels.reason, x.value]));
    expect(rejected).toEqual({ schema: 2, 'out-of-range': 2, clock: 1, unregistered: 1, 'wrong-device': 0, 'too-large': 0, acl: 0 });
    const received = Object.fromEntries(samplesOf(s, 'edgefit_mqtt_messages_received_total').map((x) => [x.labels.channel, x.value]));
    expect(received).toMatchObject({ telemetry: 3, heartbeat: 3, hello: 1, presence: 0 });
    expect(Object.values(received).reduce((a, b) => a + b, 0)).toBe(7);
  });
});
