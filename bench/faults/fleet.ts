// A small real fleet for one fault run: the controller as its own process
// (embedded broker, or Mosquitto as an external one), three agents as real
// `edgefit agent` processes, each on loopback, inside its own network
// namespace (behind a pass-through proxy on the namespace's host address), or
// behind a fault proxy on loopback; an agent's state folder may be a small
// tmpfs. Everything it makes it removes in close(), and start() first removes
// what a killed earlier run left.
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PUBLIC_KEY_FILE } from '../../controller/artifacts/signing.js';
import { openDb } from '../../controller/db.js';
import { Registry } from '../../controller/registry.js';
import { writeModel } from '../../compress/onnx/write.js';
import { buildYolov8 } from '../../compress/yolo/builder.js';
import { freeDisk, fillDisk, MOUNT_PREFIX, mountTmpfs, unmount, unmountLeftovers } from './disk.js';
import { FaultProxy } from './fault-proxy.js';
import type { FaultSnapshot } from './invariants.js';
import { createNetns, cutLink, inNetns, removeLeftoverNetns, removeNetns, restoreLink, type Netns } from './netns.js';
import { cliCommand, freePort, listening, mosquittoBin, spawnProc, stopProc, waitFor, type Proc } from './processes.js';

export type AgentNet = 'loopback' | 'netns' | 'proxy';

export interface AgentSpec {
  id: string;
  /** Agents with one salt form one device class. */
  salt: string;
  net: AgentNet;
  /** Its state folder on a tmpfs of this size (the disk-full fault). */
  tmpfsBytes?: number;
}

export interface FleetOptions {
  broker: 'embedded' | 'mosquitto';
  agents: AgentSpec[];
  seed: number;
}

interface AgentSlot extends AgentSpec {
  token: string;
  stateDir: string;
  netns?: Netns;
  proxies?: { mqtt: FaultProxy; http: FaultProxy };
  proc?: Proc;
}

let modelCache: { base: Uint8Array; n32: Uint8Array } | undefined;
/** A builder-made YOLOv8n at 64 px and the same at 32 px: synthetic weights, 12 MB each, milliseconds a frame. */
function models(): { base: Uint8Array; n32: Uint8Array } {
  modelCache ??= { base: writeModel(buildYolov8({ scale: 'n', imgsz: 64, nc: 2 })), n32: writeModel(buildYolov8({ scale: 'n', imgsz: 32, nc: 2, seed: 1 })) };
  return modelCache;
}

/** Namespaces made by this process so far: two fleets of one process (a concurrent campaign) never share a number. */
let namespaces = 0;
/** Fleets not closed yet: a test that times out, or a campaign stopped with ^C, must not leave their processes running. */
const open = new Set<FaultFleet>();

export async function closeAllFleets(): Promise<void> {
  await Promise.all([...open].map((f) => f.close()));
}

export function cleanLeftovers(): string[] {
  return [...unmountLeftovers(), ...removeLeftoverNetns()];
}

export class FaultFleet {
  readonly dir = mkdtempSync(path.join(os.tmpdir(), `${MOUNT_PREFIX}${process.pid}-`));
  readonly dataDir = path.join(this.dir, 'data');
  readonly agents = new Map<string, AgentSlot>();
  controller?: Proc;
  mosquitto?: Proc;
  adminToken = '';
  private httpPort = 0;
  private mqttPort = 0;
  private mosquittoConf = '';
  /** Processes that ended, kept for their output. */
  readonly ended: Proc[] = [];

  constructor(readonly opts: FleetOptions) {
    open.add(this);
  }

  get httpUrl(): string {
    return `http://127.0.0.1:${this.httpPort}`;
  }

  async start(): Promise<void> {
    cleanLeftovers();
    this.httpPort = await freePort();
    this.mqttPort = await freePort();
    const db = openDb(this.dataDir);
    try {
      const registry = new Registry(db);
      for (const a of this.opts.agents) this.agents.set(a.id, { ...a, token: registry.add(a.id), stateDir: path.join(this.dir, `state-${a.id}`) });
    } finally {
      db.close();
    }
    if (this.opts.broker === 'mosquitto') await this.configureMosquitto();
    await this.startController();
    let index = 0;
    for (const a of this.agents.values()) {
      index++;
      if (a.tmpfsBytes) mountTmpfs(a.stateDir, a.tmpfsBytes);
      if (a.net === 'netns') a.netns = createNetns(namespaces++ % 60);
      if (a.net !== 'loopback') {
        const host = a.netns?.hostIp ?? '127.0.0.1';
        a.proxies = {
          mqtt: await FaultProxy.start({ listenHost: host, target: { host: '127.0.0.1', port: this.mqttPort }, seed: this.opts.seed * 31 + index }),
          http: await FaultProxy.start({ listenHost: host, target: { host: '127.0.0.1', port: this.httpPort }, seed: this.opts.seed * 37 + index }),
        };
      }
      this.startAgent(a.id);
    }
    await waitFor(async () => {
      const { devices } = await this.api<{ devices: Array<{ online: boolean; deviceClass: string | null }> }>('GET', '/api/devices');
      return devices.length === this.agents.size && devices.every((d) => d.online && d.deviceClass);
      // minutes, not seconds: at load average 12-23 (four engineers' suites on this 2-core VM) three agents took over 30 s
    }, 120_000, 'every agent online', 200);
  }

  private async configureMosquitto(): Promise<void> {
    if (!mosquittoBin) throw new Error('mosquitto is not installed (Debian: apt install mosquitto)');
    const out = path.join(this.dir, 'mosquitto');
    const gen = spawnProc('broker-config', cliCommand(['broker-config', '--out', out, '--data', this.dataDir, '--port', String(this.mqttPort)]));
    await gen.exited;
    if (gen.child.exitCode !== 0) throw new Error(`broker-config failed: ${gen.output()}`);
    // Mosquitto started as root drops to its own user, which must reach the owner-only files.
    for (const p of [this.dir, out, path.join(out, 'passwd')]) chmodSync(p, 0o755);
    this.mosquittoConf = path.join(out, 'mosquitto.conf');
    await this.startBroker();
  }

  async startBroker(): Promise<void> {
    this.mosquitto = spawnProc('mosquitto', [mosquittoBin!, '-c', this.mosquittoConf]);
    await waitFor(() => listening('127.0.0.1', this.mqttPort), 30_000, 'mosquitto listening', 50);
  }

  async killBroker(): Promise<void> {
    await this.kill(this.mosquitto);
  }

  async startController(): Promise<void> {
    const broker = this.opts.broker === 'mosquitto' ? ['--broker', `mqtt://127.0.0.1:${this.mqttPort}`] : ['--mqtt-port', String(this.mqttPort)];
    const proc = spawnProc('controller', cliCommand(['controller', '--data', this.dataDir, '--port', String(this.httpPort), '--host', '127.0.0.1', ...broker]), { EDGEFIT_LOG_LEVEL: 'info' });
    this.controller = proc;
    await waitFor(async () => {
      if (!proc.running()) throw new Error(`controller exited: ${proc.output().slice(-2000)}`);
      this.adminToken = readFileSync(path.join(this.dataDir, 'admin.token'), 'utf8').trim();
      return (await fetch(`${this.httpUrl}/api/devices`, { headers: { authorization: `Bearer ${this.adminToken}` } })).ok;
    }, 90_000, 'the controller to answer', 100);
  }

  async killController(): Promise<void> {
    await this.kill(this.controller);
  }

  startAgent(id: string): void {
    const a = this.agents.get(id)!;
    const host = a.netns?.hostIp ?? '127.0.0.1';
    const mqttPort = a.proxies?.mqtt.port ?? this.mqttPort;
    const httpPort = a.proxies?.http.port ?? this.httpPort;
    const args = ['agent', '--broker', `mqtt://${host}:${mqttPort}`, '--id', id, '--controller', `http://${host}:${httpPort}`, '--controller-key', path.join(this.dataDir, PUBLIC_KEY_FILE), '--state', a.stateDir];
    // A 10 s keepalive and 5 s heartbeats: with 3 s and 1 s, at load average 12-23 Mosquitto dropped
    // agents for exceeding their keepalive and node-cron missed heartbeats, so devices flapped offline
    // with no fault at all. The broker drops a silent agent after 15 s, the registry after 15 s.
    args.push('--heartbeat', '5', '--keepalive', '10', '--threads', '1', '--class-salt', a.salt, '--health-window', '1');
    a.proc = spawnProc(`agent ${id}`, cliCommand(args, a.netns ? inNetns(a.netns) : []), { EDGEFIT_TOKEN: a.token, EDGEFIT_LOG_LEVEL: 'info' });
  }

  async killAgent(id: string): Promise<void> {
    await this.kill(this.agents.get(id)!.proc);
  }

  /** A cut: the veth set down, or where namespaces cannot be made, the agent's proxies turned into blackholes. */
  cut(id: string): void {
    const a = this.agents.get(id)!;
    if (a.netns) return cutLink(a.netns);
    a.proxies!.mqtt.set({ blackhole: true });
    a.proxies!.http.set({ blackhole: true });
  }

  restore(id: string): void {
    const a = this.agents.get(id)!;
    if (a.netns) return restoreLink(a.netns);
    a.proxies!.mqtt.set({});
    a.proxies!.http.set({});
  }

  proxies(id: string): { mqtt: FaultProxy; http: FaultProxy } {
    return this.agents.get(id)!.proxies!;
  }

  fillDisk(id: string): number {
    return fillDisk(this.agents.get(id)!.stateDir);
  }

  freeDisk(id: string): void {
    freeDisk(this.agents.get(id)!.stateDir);
  }

  private async kill(p: Proc | undefined): Promise<void> {
    if (!p) return;
    await stopProc(p, 'SIGKILL');
    this.ended.push(p);
  }

  async api<T>(method: string, p: string, body?: unknown, raw?: Uint8Array): Promise<T> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.adminToken}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (raw) headers['content-type'] = 'application/octet-stream';
    const res = await fetch(this.httpUrl + p, { method, headers, body: raw ? new Blob([Uint8Array.from(raw)]) : body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${p}: ${res.status} ${text.slice(0, 500)}`);
    return (text ? JSON.parse(text) : undefined) as T;
  }

  /** The base model with two imported candidates (64 and 32 px; no ladder build): returns the model id. */
  async addModel(): Promise<string> {
    const { base, n32 } = models();
    const added = await this.api<{ model: { id: string } }>('POST', '/api/models?name=faults&build=false', undefined, base);
    const id = added.model.id;
    await this.api('POST', `/api/models/${id}/candidates?method=export&declaredMap5095=0.3&name=n64`, undefined, base);
    await this.api('POST', `/api/models/${id}/candidates?method=resize&declaredMap5095=0.2&name=n32`, undefined, n32);
    return id;
  }

  /** What the invariants read, from the controller's database, its view of each device, and each agent's disk. */
  async snapshot(): Promise<FaultSnapshot> {
    const reported: FaultSnapshot['reported'] = {};
    for (const id of this.agents.keys()) reported[id] = (await this.api<{ reported: FaultSnapshot['reported'][string] }>('GET', `/api/devices/${id}`)).reported ?? null;
    const db = openDb(this.dataDir);
    try {
      const parse = <T>(s: string | null): T | null => (s === null ? null : (JSON.parse(s) as T));
      const rollouts = db.prepare('SELECT id, state, stage, reason FROM rollouts ORDER BY created_at').all() as FaultSnapshot['rollouts'];
      const devices = (db.prepare('SELECT rollout_id, device_id, state, generation, candidate_id, attempts, error FROM rollout_devices').all() as Array<Record<string, never>>).map((r) => ({
        rolloutId: r.rollout_id,
        deviceId: r.device_id,
        state: r.state,
        generation: r.generation,
        candidateId: r.candidate_id,
        attempts: r.attempts,
        error: r.error,
      }));
      const measurements = (db.prepare('SELECT * FROM rollout_measurements').all() as Array<Record<string, never>>).map((r) => ({
        rolloutId: r.rollout_id,
        deviceClass: r.device_class,
        candidateId: r.candidate_id,
        ep: r.ep,
        jobId: r.job_id,
        deviceId: r.device_id,
        outcome: parse<{ ok: boolean; error?: string }>(r.outcome),
      }));
      const profiles = (db.prepare('SELECT job_id, device_id, ok, check_verdict FROM profiles').all() as Array<{ job_id: string; device_id: string; ok: number; check_verdict: string | null }>).map((r) => ({
        jobId: r.job_id,
        deviceId: r.device_id,
        ok: r.ok === 1,
        checkOk: parse<{ ok: boolean }>(r.check_verdict)?.ok ?? null,
      }));
      const events = (db.prepare('SELECT rollout_id, device_id, to_state FROM rollout_events ORDER BY seq').all() as Array<{ rollout_id: string; device_id: string | null; to_state: string }>).map((e) => ({ rolloutId: e.rollout_id, deviceId: e.device_id, to: e.to_state }));
      const desired = Object.fromEntries((db.prepare('SELECT device_id, desired FROM desired_state').all() as Array<{ device_id: string; desired: string }>).map((r) => [r.device_id, JSON.parse(r.desired)]));
      const agentResults: FaultSnapshot['agentResults'] = {};
      for (const a of this.agents.values()) {
        const dir = path.join(a.stateDir, 'results');
        agentResults[a.id] = existsSync(dir)
          ? readdirSync(dir)
              .filter((f) => f.endsWith('.json'))
              .flatMap((f) => {
                try {
                  const r = JSON.parse(readFileSync(path.join(dir, f), 'utf8')) as { jobId: string; ok: boolean };
                  return [{ jobId: r.jobId, ok: r.ok }];
                } catch {
                  return [];
                }
              })
          : [];
      }
      return { rollouts, devices, measurements, profiles, events, desired, reported, agentResults };
    } finally {
      db.close();
    }
  }

  /** The last lines of every process of the run, for a report of what broke. */
  tails(lines = 15): string {
    const procs = [this.controller, this.mosquitto, ...[...this.agents.values()].map((a) => a.proc), ...this.ended].filter((p): p is Proc => p !== undefined);
    return procs.map((p) => `--- ${p.name}${p.running() ? '' : ' (ended)'}\n${p.output().trim().split('\n').slice(-lines).join('\n')}`).join('\n');
  }

  async close(): Promise<void> {
    if (!open.delete(this)) return;
    const agents = [...this.agents.values()];
    for (const a of agents) {
      quietly(() => a.netns && restoreLink(a.netns));
      a.proxies?.mqtt.set({});
      a.proxies?.http.set({});
      quietly(() => a.tmpfsBytes && freeDisk(a.stateDir));
    }
    await Promise.all(agents.map((a) => stopProc(a.proc)));
    await stopProc(this.controller);
    await stopProc(this.mosquitto);
    for (const a of agents) {
      await a.proxies?.mqtt.close();
      await a.proxies?.http.close();
      quietly(() => a.netns && removeNetns(a.netns));
      if (a.tmpfsBytes) unmount(a.stateDir);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Teardown goes on past a step that fails (a namespace a crashed start never made). */
function quietly(step: () => unknown): void {
  try {
    step();
  } catch {
    // nothing to undo
  }
}
