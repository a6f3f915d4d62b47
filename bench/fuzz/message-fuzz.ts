// The device-message fuzz run: a real controller (embedded broker, SQLite,
// HTTP), one registered device whose real MQTT client publishes fast-check's
// payloads on every device channel, then the checks: the controller still
// answers HTTP and MQTT, every dropped message logged one line, and nothing
// out of physical range is in the registry, the live state or the database.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Writable } from 'node:stream';
import fc from 'fast-check';
import mqtt from 'mqtt';
import pino from 'pino';
import type { z } from 'zod';
import { startController } from '../../controller/controller.js';
import { CHANNELS, type DeviceChannel } from '../../protocol/channels.js';
import { firstIssue } from '../../protocol/first-issue.js';
import { DetectionsMessage, Heartbeat, Inventory, ProfileReport, Reported, SnapshotMessage, Telemetry } from '../../protocol/messages.js';
import { deviceTimestampIssue } from '../../protocol/ranges.js';
import { deviceTopic } from '../../protocol/topics.js';
import { DEVICE_PUBLISHES, expectedOutcome, payloads, validMessages } from './device-messages.js';

export interface ChannelCounts {
  sent: number;
  accepted: number;
  ignored: number;
  /** Dropped, by the first words of the reason ('inventory.cpuCores', 'payload is not JSON', 'ts'). */
  dropped: Record<string, number>;
  /** The longest the event loop was held while this channel's payloads were handled, ms. */
  maxStallMs: number;
}

export interface MessageFuzzReport {
  channels: Record<DeviceChannel, ChannelCounts>;
  /** Drop lines the controller logged, and the drops the protocol's rules expect. */
  droppedLogged: number;
  droppedExpected: number;
  /** Drop lines whose reason is not one printable line of at most 1,000 characters. */
  badReasonLines: number;
  /** 'device message handling failed': a handler threw on a message its schema accepted. */
  handlerErrors: number;
  /** The longest the event loop (controller and client share it) was held, ms. */
  maxStallMs: number;
  httpStatusAfter: number;
  mqttAliveAfter: boolean;
  /** What the controller kept that is outside the protocol's ranges (should be empty). */
  outOfRange: string[];
  wallS: number;
}

const DEVICE = 'fuzz-pi';
/** Publishes awaiting their acknowledgement at once. */
const IN_FLIGHT = 50;

const reasonKind = (reason: string) => reason.split(':')[0].slice(0, 60);

async function waitUntil(probe: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (probe()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return probe();
}

export async function runMessageFuzz(opts: { perChannel: number; seed: number; dataDir: string; progress?: (line: string) => void }): Promise<MessageFuzzReport> {
  const started = performance.now();
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split('\n')) if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  });
  // warnings and errors only: a drop is a warning, and 80,000 accepted messages would fill memory with info lines
  const log = pino({ level: 'warn' }, sink);
  const controller = await startController({ dataDir: opts.dataDir, mqttPort: 0, httpPort: 0, host: '127.0.0.1', log });
  const token = controller.registry.add(DEVICE);
  const client = await mqtt.connectAsync(controller.brokerUrl, { username: DEVICE, password: token, clientId: DEVICE, reconnectPeriod: 0 });
  const stall = monitorEventLoopDelay({ resolution: 10 });
  stall.enable();
  const now = Date.now();
  const channels = {} as Record<DeviceChannel, ChannelCounts>;
  let droppedExpected = 0;
  const inFlight: Array<Promise<unknown>> = [];
  let maxStallMs = 0;
  try {
    for (const [i, channel] of DEVICE_PUBLISHES.entries()) {
      const counts: ChannelCounts = { sent: 0, accepted: 0, ignored: 0, dropped: {}, maxStallMs: 0 };
      stall.reset();
      channels[channel] = counts;
      for (const payload of fc.sample(payloads(channel, DEVICE, now), { seed: opts.seed + i, numRuns: opts.perChannel })) {
        const outcome = expectedOutcome(channel, payload, DEVICE, Date.now());
        if (outcome === 'accepted') counts.accepted++;
        else if (outcome === 'ignored') counts.ignored++;
        else {
          droppedExpected++;
          const kind = reasonKind(outcome.dropped);
          counts.dropped[kind] = (counts.dropped[kind] ?? 0) + 1;
        }
        // QoS 1 on every channel, so none is lost on the way; a window of them in flight at once, since one
        // publish at a time waited 48 ms for each acknowledgement (a TCP delayed ACK), 10 s per channel of 200
        inFlight.push(client.publishAsync(deviceTopic(DEVICE, channel), payload, { qos: 1, retain: CHANNELS[channel].retain }));
        counts.sent++;
        if (inFlight.length >= IN_FLIGHT) await Promise.all(inFlight.splice(0));
      }
      await Promise.all(inFlight.splice(0));
      counts.maxStallMs = stall.max / 1e6;
      maxStallMs = Math.max(maxStallMs, counts.maxStallMs);
      opts.progress?.(`${channel}: ${counts.sent} sent, ${counts.accepted} accepted, ${counts.sent - counts.accepted - counts.ignored} dropped`);
    }
    // a valid heartbeat after everything: the intake is still there when it is recorded
    const sentinel = { ...validMessages(DEVICE, Date.now()).heartbeat, uptimeS: 424_242 };
    await client.publishAsync(deviceTopic(DEVICE, 'heartbeat'), Buffer.from(JSON.stringify(sentinel)), { qos: 1 });
    const mqttAliveAfter = await waitUntil(() => controller.registry.get(DEVICE)?.heartbeat?.uptimeS === 424_242, 20_000);
    const drops = () => lines.filter((l) => typeof l.msg === 'string' && l.msg.endsWith(' dropped'));
    await waitUntil(() => drops().length >= droppedExpected, 5000);
    stall.disable();
    const http = await fetch(`${controller.httpUrl}/api/devices`, { headers: { authorization: `Bearer ${controller.adminToken}` } });
    await http.arrayBuffer();

    const outOfRange: string[] = [];
    const check = (what: string, schema: z.ZodType, value: unknown, ts?: number) => {
      const parsed = schema.safeParse(value);
      if (!parsed.success) outOfRange.push(`${what}: ${firstIssue(parsed.error)}`);
      const clock = ts === undefined ? undefined : deviceTimestampIssue(ts, Date.now());
      if (clock) outOfRange.push(`${what}: ${clock}`);
    };
    const device = controller.registry.get(DEVICE)!;
    if (device.heartbeat) check('registry heartbeat', Heartbeat, device.heartbeat, device.heartbeat.ts);
    if (device.inventory) check('registry inventory', Inventory, device.inventory);
    const live = controller.live.get(DEVICE);
    if (live.telemetry) check('live telemetry', Telemetry, live.telemetry, live.telemetry.ts);
    if (live.reported) check('live reported state', Reported, live.reported, live.reported.ts);
    const detections = controller.live.outputs.latestDetections(DEVICE);
    if (detections) check('live detections', DetectionsMessage, detections, detections.ts);
    const snapshot = controller.live.outputs.latestSnapshot(DEVICE);
    if (snapshot) check('live snapshot', SnapshotMessage, { ...snapshot.meta, jpeg: snapshot.jpeg.toString('base64') }, snapshot.meta.ts);
    for (const p of controller.profiles.forDevice(DEVICE, 1_000_000)) {
      if (p.profile) check(`stored profile ${p.jobId}`, ProfileReport, p.profile);
      const clock = deviceTimestampIssue(p.finishedAt, Date.now());
      if (clock) outOfRange.push(`stored profile ${p.jobId}: ${clock}`);
    }
    const dropLines = drops();
    return {
      channels,
      droppedLogged: dropLines.length,
      droppedExpected,
      badReasonLines: dropLines.filter((l) => l.msg !== 'result naming another device dropped' && (typeof l.reason !== 'string' || l.reason.length > 1000 || /[\n\r\u0000-\u001f]/.test(l.reason))).length,
      handlerErrors: lines.filter((l) => l.msg === 'device message handling failed').length,
      maxStallMs: Math.max(maxStallMs, stall.max / 1e6),
      httpStatusAfter: http.status,
      mqttAliveAfter,
      outOfRange,
      wallS: (performance.now() - started) / 1000,
    };
  } finally {
    stall.disable();
    await client.endAsync();
    await controller.close();
  }
}
