// A worker process of simulated devices (forked by main.ts, so the
// controller's process is measured alone): each device is one mqtt.js client
// with its own id and token that behaves as an agent does on the wire. It
// connects with a retained presence last will, subscribes to its jobs and
// desired state, says presence, hello and a heartbeat, heartbeats at its own
// phase of the period (agent/heartbeat-schedule.ts), reconnects with the
// agent's backoff (agent/reconnect-backoff.ts), answers a profile job after a
// simulated delay, and on a desired state reports health-check, then healthy,
// then telemetry every second while it serves.
import mqtt, { type MqttClient } from 'mqtt';
import { heartbeatPhaseMs, nextHeartbeatDelayMs } from '../../agent/heartbeat-schedule.js';
import { reconnectDelayMs } from '../../agent/reconnect-backoff.js';
import type { DeviceChannel } from '../../protocol/channels.js';
import { decode, Desired, encode, Job, type Presence } from '../../protocol/messages.js';
import { PROTOCOL_VERSION, deviceTopic } from '../../protocol/topics.js';
import { CLASSES, heartbeat, hello, reported, result, telemetry, type DeviceClassSpec } from './fleet-messages.js';
import type { ToWorker, WorkerStats } from './worker-protocol.js';

interface Sim {
  id: string;
  token: string;
  cls: DeviceClassSpec;
  client?: MqttClient;
  attempt: number;
  serving?: { sha256: string; fps: number };
  timers: Set<NodeJS.Timeout>;
}

const stats: WorkerStats = { type: 'stats', devices: 0, connected: 0, connects: 0, closes: 0, connackTimeouts: 0, errors: {}, jobs: 0, desired: 0, healthy: 0, telemetry: 0, desiredAt: [], rssMb: 0 };
let stopping = false;
let config: Extract<ToWorker, { type: 'start' }>;
const sims: Sim[] = [];

function later(s: Sim, ms: number, fn: () => void): void {
  const t = setTimeout(() => {
    s.timers.delete(t);
    fn();
  }, ms);
  s.timers.add(t);
}

function publish(s: Sim, channel: DeviceChannel, message: unknown, opts: { qos: 0 | 1; retain?: boolean }): void {
  if (!s.client?.connected) return;
  s.client.publish(deviceTopic(s.id, channel), encode(message), { qos: opts.qos, retain: opts.retain ?? false }, () => undefined);
}

/** FPS of the device's class on a candidate: faster as the candidate's FLOPs fall (main.ts gives each artifact's relative cost). */
function fpsOn(s: Sim, sha256: string): number {
  const cost = config.relativeCost[sha256] ?? 1;
  return s.cls.fps / Math.pow(cost, 0.8);
}

function connect(s: Sim): void {
  const offline: Presence = { v: PROTOCOL_VERSION, ts: Date.now(), state: 'offline' };
  const client = mqtt.connect(config.brokerUrl, {
    username: s.id,
    password: s.token,
    clientId: `edgefit-agent-${s.id}`,
    keepalive: 60,
    reconnectPeriod: 0,
    connectTimeout: 30_000,
    will: { topic: deviceTopic(s.id, 'presence'), payload: encode(offline), qos: 1, retain: true },
  });
  s.client = client;
  client.on('connect', () => {
    stats.connects++;
    s.attempt = 0;
    client.subscribe([deviceTopic(s.id, 'jobs'), deviceTopic(s.id, 'desired')], { qos: 1 }, () => {
      if (!client.connected) return;
      publish(s, 'presence', { v: PROTOCOL_VERSION, ts: Date.now(), state: 'online' }, { qos: 1, retain: true });
      publish(s, 'hello', hello(s.id, s.cls), { qos: 1 });
      publish(s, 'heartbeat', heartbeat(s.cls, config.startedAt, config.heartbeatS), { qos: 1 });
    });
  });
  client.on('message', (topic, payload) => onMessage(s, topic, payload));
  client.on('error', (err) => {
    if (/connack timeout/i.test(err.message)) stats.connackTimeouts++;
    const key = err.message.slice(0, 60);
    stats.errors[key] = (stats.errors[key] ?? 0) + 1;
  });
  client.on('close', () => {
    stats.closes++;
    if (stopping) return;
    later(s, reconnectDelayMs(s.attempt++), () => {
      if (!stopping && !client.connected) client.reconnect({ incomingStore: client.incomingStore, outgoingStore: client.outgoingStore });
    });
  });
}

function onMessage(s: Sim, topic: string, payload: Buffer): void {
  if (topic.endsWith('/jobs')) {
    const job = decode(Job, payload);
    if (!job.ok) return;
    stats.jobs++;
    later(s, config.profileDelayMs, () => publish(s, 'results', result(s.id, job.value, fpsOn(s, job.value.artifact.sha256)), { qos: 1 }));
    return;
  }
  const msg = decode(Desired, payload);
  if (!msg.ok) return;
  const d = msg.value;
  if (!d.model) return;
  const model = d.model;
  // A retained desired state this device already serves is only the broker's replay on a reconnect.
  if (s.serving?.sha256 === model.sha256) return;
  stats.desired++;
  stats.desiredAt.push(Date.now());
  const model2 = { sha256: model.sha256, ...(d.candidateId ? { candidateId: d.candidateId } : {}) };
  // download, verify and activate, then the health window
  later(s, config.activateMs * (0.5 + Math.random()), () => {
    publish(s, 'reported', reported(d.generation, d.rolloutId, 'health-check', null), { qos: 1, retain: true });
    later(s, config.healthMs, () => {
      publish(s, 'reported', reported(d.generation, d.rolloutId, 'healthy', model2), { qos: 1, retain: true });
      if (!s.serving) stats.healthy++;
      s.serving = { sha256: model.sha256, fps: fpsOn(s, model.sha256) };
    });
  });
}

function scheduleHeartbeat(s: Sim): void {
  const periodMs = config.heartbeatS * 1000;
  later(s, nextHeartbeatDelayMs(Date.now(), periodMs, heartbeatPhaseMs(s.id, periodMs)), () => {
    publish(s, 'heartbeat', heartbeat(s.cls, config.startedAt, config.heartbeatS), { qos: 1 });
    if (!stopping) scheduleHeartbeat(s);
  });
}

/** Telemetry each second from the devices that serve, at each device's own offset within the second. */
function scheduleTelemetry(s: Sim): void {
  const periodMs = config.telemetryS * 1000;
  later(s, nextHeartbeatDelayMs(Date.now(), periodMs, heartbeatPhaseMs(`${s.id}/telemetry`, periodMs)), () => {
    if (s.serving && s.client?.connected) {
      publish(s, 'telemetry', telemetry(s.serving.fps, s.serving.sha256), { qos: 1 });
      stats.telemetry++;
    }
    if (!stopping) scheduleTelemetry(s);
  });
}

async function start(msg: Extract<ToWorker, { type: 'start' }>): Promise<void> {
  config = msg;
  for (const d of msg.devices) sims.push({ id: d.id, token: d.token, cls: CLASSES[d.cls], attempt: 0, timers: new Set() });
  stats.devices = sims.length;
  // As fast as the worker can open them, a batch per turn of the event loop: a storm, as after a controller restart.
  for (let i = 0; i < sims.length; i += msg.connectBatch) {
    for (const s of sims.slice(i, i + msg.connectBatch)) {
      connect(s);
      scheduleHeartbeat(s);
      scheduleTelemetry(s);
    }
    await new Promise((r) => setTimeout(r, msg.connectPauseMs));
  }
}

async function stop(): Promise<void> {
  stopping = true;
  for (const s of sims) for (const t of s.timers) clearTimeout(t);
  await Promise.all(sims.map((s) => s.client?.endAsync(true).catch(() => undefined)));
}

setInterval(() => {
  stats.connected = sims.filter((s) => s.client?.connected).length;
  stats.rssMb = process.memoryUsage().rss / 2 ** 20;
  process.send!(stats);
  stats.desiredAt = [];
}, 1000).unref();

process.on('message', (msg: ToWorker) => {
  if (msg.type === 'start') void start(msg);
  else if (msg.type === 'stop') void stop().then(() => process.exit(0));
});
