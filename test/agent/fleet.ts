// A real controller (embedded broker, HTTP, artifact store) and real agent
// processes for the agent suites.
import mqtt, { type MqttClient } from 'mqtt';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startController, type Controller, type ControllerTlsOptions } from '../../controller/controller.js';
import { CONTROLLER_USER } from '../../controller/registry.js';
import { spawnCli, stop, type CliProcess } from '../helpers/cli.js';
import { captureLogger } from '../helpers/log.js';

/** The fleet's MQTT keepalive: a 2 s keepalive lets tests see a dead agent go offline within seconds. */
const KEEPALIVE_S = 2;

/**
 * For agents that serve a 640 model. onnxruntime-node holds the agent's main
 * thread for each inference, and a 2 s keepalive lets the broker drop a client
 * silent for 3 s: at load average 6-8 a 640 frame took longer, and the agent
 * was cut off five times in two minutes (write EPIPE, reconnect), losing the
 * profile job sent between. The agent's default is 15 s.
 */
export const SLOW_MODEL_KEEPALIVE_S = 10;

export class TestFleet {
  readonly dataDir = mkdtempSync(path.join(os.tmpdir(), 'edgefit-fleet-'));
  readonly scratch = mkdtempSync(path.join(os.tmpdir(), 'edgefit-scratch-'));
  controller!: Controller;
  capture = captureLogger();
  private ports = { mqtt: 0, http: 0 };
  private readonly agents: CliProcess[] = [];
  private readonly tokens = new Map<string, string>();

  /** `tls`: https and mqtts (the plain loopback listener on a free port); kept for restarts. */
  private tls?: ControllerTlsOptions;

  async start(opts: { tls?: ControllerTlsOptions } = {}): Promise<Controller> {
    this.capture = captureLogger();
    if (opts.tls) this.tls = { plainMqttPort: 0, ...opts.tls };
    this.controller = await startController({ dataDir: this.dataDir, mqttPort: this.ports.mqtt, httpPort: this.ports.http, host: '127.0.0.1', log: this.capture.log, ...(this.tls ? { tls: this.tls } : {}) });
    this.ports = { mqtt: Number(new URL(this.controller.brokerUrl).port), http: Number(new URL(this.controller.httpUrl).port) };
    return this.controller;
  }

  /** Logs of the current controller incarnation with this message. */
  logs(msg: string): Array<Record<string, unknown>> {
    return this.capture.lines().filter((l) => l.msg === msg);
  }

  /** `extra`: more agent flags and environment (e.g. --onnxruntime, --ca), the keepalive, and a token from elsewhere (`devices add`). */
  agent(id: string, heartbeatS = 1, extra: { args?: string[]; env?: Record<string, string>; keepaliveS?: number; token?: string } = {}): CliProcess {
    if (extra.token) this.tokens.set(id, extra.token);
    if (!this.tokens.has(id)) this.tokens.set(id, this.controller.registry.add(id));
    const state = path.join(this.scratch, `state-${id}`);
    const agent = spawnCli(
      ['agent', '--broker', this.controller.brokerUrl, '--id', id, '--controller', this.controller.httpUrl, '--state', state, '--heartbeat', String(heartbeatS), '--keepalive', String(extra.keepaliveS ?? KEEPALIVE_S), ...(extra.args ?? [])],
      { EDGEFIT_TOKEN: this.tokens.get(id)!, EDGEFIT_LOG_LEVEL: 'info', ...extra.env },
    );
    this.agents.push(agent);
    return agent;
  }

  stateDir(id: string): string {
    return path.join(this.scratch, `state-${id}`);
  }

  /** An MQTT client with the controller's rights, for publishing what the controller API would refuse to. */
  async rawController(): Promise<MqttClient> {
    const secret = readFileSync(path.join(this.dataDir, 'controller.secret'), 'utf8').trim();
    const client = mqtt.connect(this.controller.localBrokerUrl, { username: CONTROLLER_USER, password: secret, clientId: `raw-${process.pid}`, reconnectPeriod: 0 });
    await new Promise((resolve, reject) => {
      client.once('connect', resolve);
      client.once('error', reject);
    });
    return client;
  }

  async api<T>(p: string): Promise<{ status: number; body: T }> {
    const res = await fetch(this.controller.httpUrl + p, { headers: { authorization: `Bearer ${this.controller.adminToken}` } });
    return { status: res.status, body: (await res.json()) as T };
  }

  async close(): Promise<void> {
    await Promise.all(this.agents.map((a) => stop(a)));
    // A controller that cannot close names the step it waits on (controller/close-steps.ts): say it here, before the hook's timeout.
    let timer: NodeJS.Timeout | undefined;
    const hung = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`the controller did not close in 40 s: ${JSON.stringify(this.logs('shutdown still waiting').at(-1) ?? 'no step named')}`)), 40_000);
    });
    await Promise.race([this.controller?.close(), hung]).finally(() => clearTimeout(timer));
    rmSync(this.dataDir, { recursive: true, force: true });
    rmSync(this.scratch, { recursive: true, force: true });
  }
}

/** JSON log lines of an agent process with this message (and optionally this job). */
export function agentLogs(agent: CliProcess, msg: string, jobId?: string): Array<Record<string, unknown>> {
  return agent
    .output()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => {
      try {
        return JSON.parse(l) as Record<string, unknown>;
      } catch {
        return {};
      }
    })
    .filter((l) => l.msg === msg && (jobId === undefined || l.jobId === jobId));
}
