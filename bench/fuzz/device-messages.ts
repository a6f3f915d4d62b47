// Hostile payloads for every channel a device publishes on, built with
// fast-check from one valid message per channel: the channels come from the
// protocol's table (DEVICE_PUBLISHES), and the type checker asks for a valid
// sample of each one added there. Shared by test/fuzz/messages.test.ts (a few
// hundred per channel) and bench/fuzz.bench.ts (10,000 per channel).
import fc from 'fast-check';
import jpeg from 'jpeg-js';
import { CHANNELS, DEVICE_PUBLISHES, decodeFor, type DeviceChannel, type MessageInput } from '../../protocol/channels.js';
import { deviceTimestampIssue } from '../../protocol/ranges.js';
import { PROTOCOL_VERSION } from '../../protocol/topics.js';

const SHA = 'ab'.repeat(32);

const latency = (ms: number) => ({ n: 50, minMs: ms * 0.9, p50Ms: ms, p90Ms: ms * 1.1, p95Ms: ms * 1.2, p99Ms: ms * 1.3, maxMs: ms * 1.5, meanMs: ms * 1.05, stdMs: ms * 0.1 });

/** A small real JPEG (8×8 grey): what an agent's snapshot carries, base64. */
function tinyJpeg(): string {
  const data = Buffer.alloc(8 * 8 * 4, 128);
  return Buffer.from(jpeg.encode({ data, width: 8, height: 8 }, 80).data).toString('base64');
}

/** One message each device channel accepts, as an agent on a Raspberry Pi 5 would send it at `now`. */
export function validMessages(deviceId: string, now: number): { [C in DeviceChannel]: MessageInput<C> } {
  const envelope = { v: PROTOCOL_VERSION as typeof PROTOCOL_VERSION, ts: now };
  return {
    hello: {
      ...envelope,
      deviceClass: '0123456789abcdef',
      inventory: { hostname: 'pi-fuzz', cpuModel: 'Cortex-A76', cpuCores: 4, cpuPhysicalCores: 4, arch: 'arm64', memTotalBytes: 8 * 2 ** 30, os: 'Debian GNU/Linux 12', kernel: '6.6.31', boardModel: 'Raspberry Pi 5 Model B Rev 1.0', gpus: [], executionProviders: ['cpu'], onnxruntimeVersion: '1.30.0', edgefitVersion: '0.1.0', accelerators: [] },
    },
    presence: { ...envelope, state: 'online' },
    heartbeat: { ...envelope, uptimeS: 3600, agentUptimeS: 600, load1: 0.7, memUsedBytes: 2 * 2 ** 30, memTotalBytes: 8 * 2 ** 30, temperatureC: 52.5, intervalS: 10 },
    results: {
      ...envelope,
      jobId: 'fuzz-0',
      deviceId,
      kind: 'profile',
      artifactSha256: SHA,
      ok: true,
      profile: {
        threads: 4, sessionCreateMs: 120, warmupRuns: 10, model: latency(20), modelFps: 47.6, endToEnd: latency(30), endToEndFps: 31.7, sustained: null, cpuPct: 380,
        ep: 'cpu', modelSha256: SHA, inputShape: [1, 3, 320, 320], outputShape: [1, 84, 2100], frame: { width: 640, height: 480, source: 'scenes' },
        memory: { rssAfterLoadMb: 90, peakRssMb: 120, rssGrowthMb: 2, source: 'runtime' },
        temperature: { beforeC: 50, peakC: 61, afterC: 58 },
        throttling: { maxClockDropPct: 0, cpuMaxFreqMHz: 2400, firmwareThrottled: false, firmwareFlags: [] },
        sweep: null, wallS: 12, environment: { load1: 0.5, load5: 0.4, servingPaused: false, topProcesses: [{ name: 'node', pid: 1234, cpuPct: 12.5 }] },
      },
    },
    telemetry: { ...envelope, fps: 24.5, latencyP50Ms: 38, latencyP95Ms: 45, memoryMb: 180, temperatureC: 60, throttled: false, modelSha256: SHA, errors: 0, decodeMs: 3.4, inferenceMs: 36, droppedFrames: 0, droppedTotal: 0, reconnects: 0, sourceConnected: true, sourceError: null, sourceGap: null },
    reported: { ...envelope, generation: 1, state: 'healthy', activeModel: { sha256: SHA, generation: 1 }, slo: { met: true, violations: [] } },
    detections: { ...envelope, candidateId: 'n320', sha256: SHA, seq: 1, frame: { width: 640, height: 480 }, boxes: [{ box: [10, 20, 300, 400], classId: 0, className: 'person', score: 0.9 }] },
    snapshot: { ...envelope, candidateId: 'n320', sha256: SHA, seq: 1, frame: { width: 640, height: 480 }, image: { width: 8, height: 8, quality: 80 }, boxes: 1, jpeg: tinyJpeg() },
  };
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Path = Array<string | number>;

/** Every path into a JSON value, the root excluded. */
function paths(value: Json, at: Path = []): Path[] {
  if (value === null || typeof value !== 'object') return [];
  const keys: Array<string | number> = Array.isArray(value) ? value.map((_, i) => i) : Object.keys(value);
  return keys.flatMap((k) => [[...at, k], ...paths((value as Record<string | number, Json>)[k], [...at, k])]);
}

/** Text spliced into the JSON in place of a marker string: what JSON.stringify cannot build (10,000 levels of nesting would overflow its stack). */
const RAW = '\u0000raw:';

/** Values no field should take, each as JSON can carry it: huge and tiny numbers, -0, NaN and Infinity as strings, odd Unicode, deep nesting. */
const weird: fc.Arbitrary<Json> = fc.oneof(
  fc.constantFrom<Json>(1e308, -1e308, 5e-324, -0, -1, 0, 2 ** 31, 2 ** 53 + 2, 2 ** 63, 8.64e15, -8.64e15, 'NaN', 'Infinity', '-Infinity', '1e308', '', null, true, false, [], {}),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.integer(),
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.string({ unit: 'grapheme', maxLength: 50 }),
  // right-to-left overrides, zero-width joiners, a lone surrogate, emoji: long enough to pass every 255-character bound
  fc.constantFrom('\u202e\u2066evil\u2069', '\u200d'.repeat(300), '\ud800', '😀'.repeat(5000), 'é'.repeat(70_000), 'a\nb\r\nc\u0000d'),
  fc.integer({ min: 50, max: 10_000 }).map((depth) => `${RAW}arrays:${depth}`),
  fc.integer({ min: 50, max: 5000 }).map((depth) => `${RAW}objects:${depth}`),
  fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<Json>,
);

type Mutation = { kind: 'set'; path: Path; value: Json } | { kind: 'delete'; path: Path } | { kind: 'extra'; path: Path; key: string; value: Json };

function apply(message: Json, m: Mutation): void {
  const parentPath = m.kind === 'extra' ? m.path : m.path.slice(0, -1);
  let parent = message as Record<string | number, Json>;
  // an earlier mutation may have replaced or removed what this one names: then it does nothing
  for (const k of parentPath) {
    if (parent === null || typeof parent !== 'object') return;
    parent = parent[k] as Record<string | number, Json>;
  }
  if (parent === null || typeof parent !== 'object') return;
  if (m.kind === 'extra') {
    // an earlier mutation may have made the object an array: a key 'constructor' on it broke splice (10,000-run bench)
    if (!Array.isArray(parent)) parent[m.key] = m.value;
  } else if (m.kind === 'set') parent[m.path.at(-1)!] = m.value;
  else if (Array.isArray(parent)) parent.splice(m.path.at(-1) as number, 1);
  else delete parent[m.path.at(-1)!];
}

const nested = (kind: string, depth: number): string => (kind === 'arrays' ? `${'['.repeat(depth)}${']'.repeat(depth)}` : `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`);

function serialize(message: Json): Buffer {
  const text = JSON.stringify(message).replace(/"\\u0000raw:(arrays|objects):(\d+)"/g, (_, kind: string, depth: string) => nested(kind, Number(depth)));
  return Buffer.from(text);
}

/** Payloads for one channel: mutations of its valid message (1-3 fields set, deleted or added), whole random JSON, random bytes, truncated JSON. */
export function payloads(channel: DeviceChannel, deviceId: string, now: number): fc.Arbitrary<Buffer> {
  const valid = validMessages(deviceId, now)[channel] as unknown as Json;
  const all = paths(valid);
  const objects = [[] as Path, ...all.filter((p) => { let v: Json = valid; for (const k of p) v = (v as Record<string | number, Json>)[k]; return v !== null && typeof v === 'object' && !Array.isArray(v); })];
  const mutation: fc.Arbitrary<Mutation> = fc.oneof(
    fc.record({ kind: fc.constant('set' as const), path: fc.constantFrom(...all), value: weird }),
    fc.record({ kind: fc.constant('delete' as const), path: fc.constantFrom(...all) }),
    fc.record({ kind: fc.constant('extra' as const), path: fc.constantFrom(...objects), key: fc.oneof(fc.string({ maxLength: 20 }), fc.constantFrom('__proto__', 'constructor', 'toString')), value: weird }),
  );
  const mutated = fc.tuple(fc.array(mutation, { minLength: 1, maxLength: 3 }), fc.nat()).map(([ms, id]) => {
    const copy = JSON.parse(JSON.stringify(valid)) as Json;
    // results are stored once per job: a fresh id each, so an accepted one is a new row
    if (channel === 'results') (copy as Record<string, Json>).jobId = `fuzz-${id}`;
    for (const m of ms) apply(copy, m);
    return serialize(copy);
  });
  return fc.oneof(
    { weight: 8, arbitrary: mutated },
    { weight: 1, arbitrary: (fc.jsonValue({ maxDepth: 4 }) as fc.Arbitrary<Json>).map((v) => serialize(v)) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 2000 }).map((b) => Buffer.from(b)) },
    { weight: 1, arbitrary: fc.nat().map((n) => { const text = serialize(valid); return text.subarray(0, n % text.length); }) },
  );
}

/**
 * What the controller must do with a payload, by the protocol's own rules:
 * 'ignored' (an empty payload clears a retained channel), 'accepted', or the
 * reason it is dropped. The test holds the controller's log to it.
 */
export function expectedOutcome(channel: DeviceChannel, payload: Buffer, deviceId: string, now: number): 'ignored' | 'accepted' | { dropped: string } {
  if (CHANNELS[channel].retain && payload.length === 0) return 'ignored';
  const decoded = decodeFor(channel, payload);
  if (!decoded.ok) return { dropped: decoded.reason };
  const clock = deviceTimestampIssue((decoded.value as { ts: number }).ts, now);
  if (clock) return { dropped: clock };
  if (channel === 'results' && (decoded.value as { deviceId: string }).deviceId !== deviceId) return { dropped: 'result naming another device' };
  return 'accepted';
}

export { DEVICE_PUBLISHES };
