// One run of the fleet against one broker: register the devices, start the
// controller in its own process and the devices in worker processes, and
// measure the connection storm, the steady state, the device list, a staged
// rollout to every device, the fleet serving, the dashboard and the close.
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeModel } from '../../compress/onnx/write.js';
import { buildYolov8 } from '../../compress/yolo/builder.js';
import { openDb } from '../../controller/db.js';
import { Registry } from '../../controller/registry.js';
import type { ChildReply, ToChild } from './child-protocol.js';
import { measureDashboard, type DashboardFigures } from './dashboard.js';
import { CLASSES } from './fleet-messages.js';
import { bursts, percentile, ProcWindow, timedFetch } from './measure.js';
import { startMosquitto } from './mosquitto.js';
import type { ToWorker, WorkerStats } from './worker-protocol.js';

const here = path.dirname(fileURLToPath(import.meta.url));

export interface ScenarioOptions {
  broker: 'embedded' | 'mosquitto';
  devices: number;
  workers: number;
  steadyS: number;
  stormTimeoutS: number;
  rolloutTimeoutS: number;
  dashboard: boolean;
  log: (line: string) => void;
}

export type Figures = Record<string, number | string | null | object>;

const id = (i: number) => `dev-${String(i).padStart(5, '0')}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The controller's process and a request/answer over its IPC channel. */
class ControllerProcess {
  readonly ready: Promise<Extract<ChildReply, { type: 'ready' }>>;
  crash: string | null = null;
  private waiting: Array<(m: ChildReply) => void> = [];
  constructor(readonly child: ChildProcess) {
    // A controller that died answers every open question with its crash.
    child.once('exit', (code) => {
      for (const w of this.waiting.splice(0)) w({ type: 'crash', error: this.crash ?? `the controller exited (${code})` });
    });
    this.ready = new Promise((resolve, reject) => {
      child.on('message', (m: ChildReply) => {
        if (m.type === 'ready') return resolve(m);
        if (m.type === 'crash') {
          this.crash = m.error;
          return reject(new Error(m.error));
        }
        this.waiting.shift()?.(m);
      });
    });
  }
  ask<T extends ChildReply['type']>(msg: ToChild): Promise<Extract<ChildReply, { type: T }>> {
    return new Promise((resolve, reject) => {
      if (this.child.exitCode !== null || !this.child.connected) return reject(new Error(this.crash ?? 'the controller is gone'));
      this.waiting.push((m) => (m.type === 'crash' ? reject(new Error(m.error)) : resolve(m as Extract<ChildReply, { type: T }>)));
      this.child.send(msg);
    });
  }
}

async function api<T>(base: string, token: string, method: string, p: string, body?: unknown): Promise<{ status: number; body: T }> {
  const bytes = body instanceof Uint8Array;
  const res = await fetch(base + p, { method, headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': bytes ? 'application/octet-stream' : 'application/json' }) }, body: body === undefined ? undefined : bytes ? new Blob([Uint8Array.from(body)]) : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
}

export async function runScenario(o: ScenarioOptions): Promise<Figures> {
  const f: Figures = { broker: o.broker, devices: o.devices, workers: o.workers };
  const dir = mkdtempSync(path.join(os.tmpdir(), `edgefit-fleet-scale-${o.broker}-`));
  const dataDir = path.join(dir, 'data');
  const tokens: string[] = [];
  let mosquitto: ChildProcess | undefined;
  let brokerUrl: string | undefined;
  const workers: ChildProcess[] = [];
  const stats = new Map<number, WorkerStats>();
  const desiredAt: number[] = [];
  let controllerChild: ChildProcess | undefined;
  try {
    if (o.broker === 'mosquitto') {
      // Mosquitto reads its users from a file written before it starts: register in the registry directly.
      const t0 = performance.now();
      const db = openDb(dataDir);
      const registry = new Registry(db);
      for (let i = 0; i < o.devices; i++) tokens.push(registry.add(id(i)));
      db.close();
      f.registerPerS = o.devices / ((performance.now() - t0) / 1000);
      f.registerVia = 'registry (SQLite)';
      const port = 20000 + Math.floor(Math.random() * 20000);
      const m = await startMosquitto(dir, dataDir, port);
      mosquitto = m.process;
      brokerUrl = m.url;
    }
    const controller = new ControllerProcess(fork(path.join(here, 'controller-child.js'), [dataDir, path.join(dir, 'controller.log'), ...(brokerUrl ? [brokerUrl] : [])], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
    controllerChild = controller.child;
    const ready = await controller.ready;
    const { httpUrl, adminToken } = ready;
    o.log(`${o.broker}: controller pid ${ready.pid}, ${httpUrl}, broker ${ready.brokerUrl}`);

    // A builder-made yolov8n with its quick ladder (fp32 and int8 at four input sizes): the candidates the rollout chooses from.
    const added = await api<{ model: { id: string }; job: { id: string } }>(httpUrl, adminToken, 'POST', '/api/models?name=fleet-scale&ladder=quick&sizes=64,128,192,256', writeModel(buildYolov8({ scale: 'n', imgsz: 256, nc: 2 })));
    if (added.status !== 202) throw new Error(`model not added: ${JSON.stringify(added.body)}`);
    for (let state = ''; state !== 'done'; await sleep(500)) {
      state = (await api<{ state: string; error: string | null }>(httpUrl, adminToken, 'GET', `/api/ladder-jobs/${added.body.job.id}`)).body.state;
      if (state === 'failed') throw new Error('the ladder failed');
    }
    const ladder = (await api<{ candidates: Array<{ sha256: string; flops: number; name: string }> }>(httpUrl, adminToken, 'GET', `/api/models/${added.body.model.id}/candidates`)).body.candidates;
    const maxFlops = Math.max(...ladder.map((c) => c.flops));
    // Simulated speed: int8 at an assumed 0.6 of the float cost (not a measurement; the planner only needs int8 to be faster).
    const relativeCost = Object.fromEntries(ladder.map((c) => [c.sha256, (c.flops / maxFlops) * (/int8/.test(c.name) ? 0.6 : 1)]));
    f.ladder = ladder.length;

    if (o.broker === 'embedded') {
      // Registration through the HTTP API, 8 requests at a time, as a provisioning script would.
      const t0 = performance.now();
      let next = 0;
      await Promise.all(
        Array.from({ length: 8 }, async () => {
          for (let i = next++; i < o.devices; i = next++) {
            const r = await api<{ token: string }>(httpUrl, adminToken, 'POST', '/api/devices', { id: id(i) });
            if (r.status !== 201) throw new Error(`cannot register ${id(i)}: ${JSON.stringify(r.body)}`);
            tokens[i] = r.body.token;
          }
        }),
      );
      f.registerPerS = o.devices / ((performance.now() - t0) / 1000);
      f.registerVia = 'HTTP API (POST /api/devices, 8 at a time)';
    }
    o.log(`${o.broker}: ${o.devices} devices registered at ${Math.round(f.registerPerS as number)}/s; ladder of ${ladder.length}`);

    // The storm: every device connects as fast as its worker can open connections.
    const startedAt = Date.now();
    const base = { type: 'start' as const, brokerUrl: ready.brokerUrl, startedAt, heartbeatS: 10, telemetryS: 1, profileDelayMs: 3000, activateMs: 2000, healthMs: 2000, relativeCost, connectBatch: 100, connectPauseMs: 10 };
    for (let w = 0; w < o.workers; w++) {
      const child = fork(path.join(here, 'device-worker.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      child.on('message', (m: WorkerStats) => {
        stats.set(w, m);
        desiredAt.push(...m.desiredAt);
      });
      const devices = [];
      for (let i = w; i < o.devices; i += o.workers) devices.push({ id: id(i), token: tokens[i], cls: i % CLASSES.length });
      child.send({ ...base, devices } satisfies ToWorker);
      workers.push(child);
    }
    const sum = (k: 'connected' | 'connects' | 'closes' | 'connackTimeouts' | 'jobs' | 'desired' | 'healthy' | 'telemetry' | 'rssMb') => [...stats.values()].reduce((n, s) => n + s[k], 0);
    const stormWindow = new ProcWindow(ready.pid);
    let online = 0;
    let stormS: number | null = null;
    const stormTimeline: Array<[number, number]> = [];
    while ((Date.now() - startedAt) / 1000 < o.stormTimeoutS) {
      await sleep(1000);
      online = (await controller.ask<'stats'>({ type: 'stats' })).online;
      const t = (Date.now() - startedAt) / 1000;
      stormTimeline.push([Math.round(t), online]);
      if (online >= o.devices) {
        stormS = t;
        break;
      }
    }
    const storm = stormWindow.end();
    f.storm = { allOnlineS: stormS, onlineAtEnd: online, controllerCores: storm.cores, peakRssMb: storm.peakRssMb, connects: sum('connects'), closes: sum('closes'), connackTimeouts: sum('connackTimeouts'), errors: [...stats.values()].reduce<Record<string, number>>((all, s) => (Object.entries(s.errors).forEach(([k, v]) => (all[k] = (all[k] ?? 0) + v)), all), {}), timeline: stormTimeline.filter((_, i) => i % 5 === 0) };
    o.log(`${o.broker}: storm ${stormS === null ? `not all online in ${o.stormTimeoutS} s (${online})` : `${stormS.toFixed(1)} s`}; ${sum('connects')} connects, ${sum('closes')} closes, ${sum('connackTimeouts')} connack timeouts`);

    f.steady = await steadyWindow(controller, ready.pid, o.steadyS, sum);
    o.log(`${o.broker}: steady ${JSON.stringify(f.steady)}`);
    f.workerRssMbPerDevice = sum('rssMb') / o.devices;

    // GET /api/devices: the default page from the start and from cursors through the fleet, then the whole fleet in pages.
    const lat: number[] = [];
    let bytes = 0;
    for (let k = 0; k < 100; k++) {
      const after = k === 0 ? '' : `?after=${id(Math.floor((k / 100) * o.devices))}`;
      const r = await timedFetch(`${httpUrl}/api/devices${after}`, adminToken);
      lat.push(r.ms);
      bytes = Math.max(bytes, r.bytes);
    }
    const walk0 = performance.now();
    let pages = 0;
    for (let after: string | null = ''; after !== null; pages++) after = ((await timedFetch(`${httpUrl}/api/devices?limit=2000${after ? `&after=${after}` : ''}`, adminToken)).body as { next: string | null }).next;
    f.deviceList = { pageP50Ms: percentile(lat, 50), pageP99Ms: percentile(lat, 99), pageKb: bytes / 1024, wholeFleetMs: performance.now() - walk0, wholeFleetPages: pages };
    o.log(`${o.broker}: GET /api/devices ${JSON.stringify(f.deviceList)}`);

    // The SLO every class meets on the cheapest candidate, with the policy's 10% headroom and a margin: faster classes choose larger ones.
    const minFps = Math.floor((Math.min(...CLASSES.map((c) => c.fps)) / Math.pow(Math.min(...Object.values(relativeCost)), 0.8) / 1.25) * 10) / 10;
    f.rollout = await rollout(o, httpUrl, adminToken, added.body.model.id, minFps, controller, sum, desiredAt, ladder.length);
    o.log(`${o.broker}: rollout ${JSON.stringify(f.rollout)}`);
    f.serving = await steadyWindow(controller, ready.pid, Math.min(30, o.steadyS), sum);
    o.log(`${o.broker}: serving ${JSON.stringify(f.serving)}`);

    if (o.dashboard) {
      const d: DashboardFigures | string = await measureDashboard(httpUrl, adminToken, o.devices).catch((err: Error) => `failed: ${err.message.split('\n')[0]}`);
      f.dashboard = d;
      o.log(`${o.broker}: dashboard ${JSON.stringify(d)}`);
    }

    // Close with the whole fleet connected: the first probe's controller crashed here inside aedes.
    const closed = await Promise.race([controller.ask<'closed'>({ type: 'stop' }), sleep(60_000).then(() => ({ type: 'closed' as const, ms: NaN, error: 'no answer in 60 s' }))]).catch((err: Error) => ({ type: 'closed' as const, ms: NaN, error: err.message }));
    const exit = await exited(controller.child);
    f.close = { ms: closed.ms, error: closed.error ?? controller.crash, exitCode: exit };
    o.log(`${o.broker}: close ${JSON.stringify(f.close)}`);

    if (o.broker === 'embedded') {
      // A controller restart (an upgrade): the whole fleet reconnects to the embedded broker on the same port.
      const port = new URL(ready.brokerUrl).port;
      const t0 = Date.now();
      const connects0 = sum('connects');
      const again = new ControllerProcess(fork(path.join(here, 'controller-child.js'), [dataDir, path.join(dir, 'controller-2.log'), '', port], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
      controllerChild = again.child;
      const r2 = await again.ready;
      const readyS = (Date.now() - t0) / 1000;
      const w = new ProcWindow(r2.pid);
      let back: number | null = null;
      let n = 0;
      while ((Date.now() - t0) / 1000 < o.stormTimeoutS) {
        await sleep(1000);
        n = (await again.ask<'stats'>({ type: 'stats' })).online;
        if (n >= o.devices) {
          back = (Date.now() - t0) / 1000;
          break;
        }
      }
      const p = w.end();
      f.restart = { readyS, allBackS: back, onlineAtEnd: n, reconnects: sum('connects') - connects0, controllerCores: p.cores, peakRssMb: p.peakRssMb };
      o.log(`${o.broker}: restart ${JSON.stringify(f.restart)}`);
      const closed2 = await again.ask<'closed'>({ type: 'stop' }).catch((err: Error) => ({ type: 'closed' as const, ms: NaN, error: err.message }));
      f.close2 = { ms: closed2.ms, error: closed2.error ?? again.crash, exitCode: await exited(again.child) };
    }
    return f;
  } finally {
    for (const w of workers) if (w.connected) w.send({ type: 'stop' } satisfies ToWorker);
    await Promise.all(workers.map((w) => new Promise((r) => (w.exitCode !== null ? r(null) : (w.once('exit', r), setTimeout(() => (w.kill('SIGKILL'), r(null)), 20_000))))));
    if (controllerChild && controllerChild.exitCode === null) controllerChild.kill('SIGKILL');
    mosquitto?.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}

function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => (child.exitCode !== null ? resolve(child.exitCode) : child.once('exit', (code) => resolve(code))));
}

type Sum = (k: 'connected' | 'connects' | 'closes' | 'connackTimeouts' | 'jobs' | 'desired' | 'healthy' | 'telemetry' | 'rssMb') => number;

/** The controller over a quiet window: CPU in cores, peak RSS, event-loop delay, rows written per second, devices dropping offline. */
async function steadyWindow(controller: ControllerProcess, pid: number, seconds: number, sum: Sum): Promise<Figures> {
  const s0 = await controller.ask<'stats'>({ type: 'stats', reset: true });
  const closes0 = sum('closes');
  const telemetry0 = sum('telemetry');
  const w = new ProcWindow(pid);
  let minOnline = Infinity;
  for (let t = 0; t < seconds; t++) {
    await sleep(1000);
    minOnline = Math.min(minOnline, (await controller.ask<'stats'>({ type: 'stats' })).online);
  }
  const s1 = await controller.ask<'stats'>({ type: 'stats' });
  const p = w.end();
  return { seconds: Math.round(p.seconds), cores: p.cores, peakRssMb: p.peakRssMb, lagP50Ms: s1.lagP50Ms, lagP99Ms: s1.lagP99Ms, lagMaxMs: s1.lagMaxMs, rowsWrittenPerS: (s1.rowsWritten - s0.rowsWritten) / p.seconds, minOnline, closes: sum('closes') - closes0, telemetryPerS: (sum('telemetry') - telemetry0) / p.seconds, telemetryInPerS: (s1.telemetryIn - s0.telemetryIn) / p.seconds };
}

async function rollout(o: ScenarioOptions, httpUrl: string, token: string, model: string, minFps: number, controller: ControllerProcess, sum: Sum, desiredAt: number[], ladderSize: number): Promise<Figures> {
  const spec = { name: 'fleet-scale', model, slo: { minFps }, stages: { canary: 8, phases: ['10%', '50%', '100%'] }, rate: { maxInFlight: 100_000 }, profile: { durationS: 1, warmup: 1 }, deviceTimeoutS: 600 };
  const t0 = Date.now();
  const created = await api<{ id: string; message?: string }>(httpUrl, token, 'POST', '/api/rollouts', spec);
  if (created.status !== 201) throw new Error(`rollout not created: ${created.body.message}`);
  const desired0 = sum('desired');
  let allDesiredS: number | null = null;
  let allHealthyS: number | null = null;
  let last: Extract<ChildReply, { type: 'rollout' }> | undefined;
  while ((Date.now() - t0) / 1000 < o.rolloutTimeoutS) {
    await sleep(1000);
    last = await controller.ask<'rollout'>({ type: 'rollout', id: created.body.id });
    const t = (Date.now() - t0) / 1000;
    if (allDesiredS === null && sum('desired') - desired0 >= o.devices) allDesiredS = t;
    if ((last.states.healthy ?? 0) >= o.devices) {
      allHealthyS = t;
      break;
    }
    if (last.state === 'aborted' || last.state === 'completed') break;
  }
  const classes = CLASSES.length;
  const bound = classes * (Math.log2(ladderSize) + 2);
  const stages = bursts(desiredAt.filter((t) => t >= t0));
  return { minFps, state: last?.state ?? null, states: last?.states ?? {}, profiles: last?.profiles ?? null, profileBound: Math.floor(bound), jobsReceived: sum('jobs'), allDesiredS, allHealthyS, fanOut: stages.map((b) => ({ devices: b.count, spanS: b.spanMs / 1000, perS: b.perSecond })) };
}
