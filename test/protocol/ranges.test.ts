// Physical ranges of what devices send (protocol/ranges.ts): the first
// probe's values are refused, each bound holds at its edge and fails just past
// it, timestamps are judged against the controller's clock, and the agent
// turns a measurement out of range into a failed result rather than a silence.
import { describe, expect, it } from 'vitest';
import { validMessages } from '../../bench/fuzz/device-messages.js';
import { inRange } from '../../agent/jobs/runner.js';
import { decodeFor } from '../../protocol/channels.js';
import { Heartbeat, LatencyStats, Result, Telemetry } from '../../protocol/messages.js';
import { oneLine } from '../../protocol/one-line.js';
import { deviceTimestampIssue, EARLIEST_DEVICE_TS, MAX_CLOCK_AHEAD_MS } from '../../protocol/ranges.js';

const NOW = Date.UTC(2026, 11, 7, 6, 0, 0);
const valid = validMessages('pi-a', NOW);
type Obj = Record<string, unknown>;
/** A copy of `message` with the value at `path` replaced. */
function withValue<T>(message: T, path: string, value: unknown): T {
  const copy = structuredClone(message) as Obj;
  const keys = path.split('.');
  let at = copy;
  for (const k of keys.slice(0, -1)) at = at[k] as Obj;
  at[keys.at(-1)!] = value;
  return copy as T;
}
const json = (x: unknown) => Buffer.from(JSON.stringify(x));

describe('physical ranges of device messages', () => {
  it('accepts what a Raspberry Pi agent sends on every channel', () => {
    for (const [channel, message] of Object.entries(valid)) {
      const decoded = decodeFor(channel as keyof typeof valid, json(message));
      expect(decoded.ok, `${channel}: ${decoded.ok ? '' : decoded.reason}`).toBe(true);
    }
  });

  it("refuses every value the first probe got stored, naming the field", () => {
    const result = (path: string, value: unknown) => decodeFor('results', json(withValue(valid.results, path, value)));
    const cases: Array<[ReturnType<typeof decodeFor>, RegExp]> = [
      [result('profile.model.p95Ms', -1), /^profile\.model\.p95Ms: /],
      [result('profile.model.minMs', -1e308), /^profile\.model\.minMs: /],
      [result('profile.modelFps', 1e308), /^profile\.modelFps: /],
      [result('profile.cpuPct', -500), /^profile\.cpuPct: /],
      [decodeFor('telemetry', json({ ...valid.telemetry, fps: 1e308 })), /^fps: /],
      [decodeFor('telemetry', json({ ...valid.telemetry, temperatureC: -1e308 })), /^temperatureC: /],
    ];
    for (const [decoded, reason] of cases) {
      expect(decoded.ok).toBe(false);
      expect(!decoded.ok && decoded.reason).toMatch(reason);
    }
    // the heartbeat stamped 8.64e15 passes the schema (a safe integer) and is refused at intake by the clock
    expect(decodeFor('heartbeat', json({ ...valid.heartbeat, ts: 8.64e15 })).ok).toBe(true);
    expect(deviceTimestampIssue(8.64e15, NOW)).toBe("ts: +275760-09-13T00:00:00.000Z is more than a day ahead of the controller's clock (2026-12-07T06:00:00.000Z)");
  });

  it('holds each bound at its edge and refuses just past it', () => {
    // [schema, message, field path, the last value in range, the first value past it], the bounds as ranges.ts defines them
    const telemetry = valid.telemetry as Obj;
    const heartbeat = valid.heartbeat as Obj;
    const edges: Array<[{ safeParse(v: unknown): { success: boolean } }, Obj, string, number, number]> = [
      [Telemetry, telemetry, 'fps', 100_000, 100_000.001],
      [Telemetry, telemetry, 'fps', 0, -0.001],
      [Telemetry, telemetry, 'latencyP95Ms', 600_000, 600_000.001],
      [Telemetry, telemetry, 'temperatureC', 150, 150.01],
      [Telemetry, telemetry, 'temperatureC', -60, -60.01],
      [Telemetry, telemetry, 'memoryMb', 16 * 1024 * 1024, 16 * 1024 * 1024 + 1],
      [Telemetry, telemetry, 'errors', 0, -1],
      [Heartbeat, heartbeat, 'load1', 2 ** 22, 2 ** 22 + 1],
      [Heartbeat, heartbeat, 'uptimeS', 100 * 365.25 * 86_400, 100 * 365.25 * 86_400 + 1],
      [Result, valid.results as Obj, 'profile.cpuPct', 100 * 8192, 100 * 8192 + 0.01],
      [Result, valid.results as Obj, 'profile.temperature.peakC', 150, 151],
      [Result, valid.results as Obj, 'profile.environment.topProcesses.0.pid', 2 ** 22, 2 ** 22 + 1],
      [Result, valid.results as Obj, 'profile.memory.rssGrowthMb', -16 * 1024 * 1024, -16 * 1024 * 1024 - 1],
    ];
    for (const [schema, message, path, inside, past] of edges) {
      expect(schema.safeParse(withValue(message, path, inside)).success, `${path} = ${inside}`).toBe(true);
      expect(schema.safeParse(withValue(message, path, past)).success, `${path} = ${past}`).toBe(false);
    }
    // a heartbeat cannot use more memory than its device has
    expect(Heartbeat.safeParse({ ...heartbeat, memUsedBytes: heartbeat.memTotalBytes }).success).toBe(true);
    expect(Heartbeat.safeParse({ ...heartbeat, memUsedBytes: (heartbeat.memTotalBytes as number) + 1 }).success).toBe(false);
  });

  it('keeps the percentiles of one sample in order', () => {
    const stats = { n: 10, minMs: 1, p50Ms: 2, p90Ms: 3, p95Ms: 4, p99Ms: 5, maxMs: 6, meanMs: 2.5, stdMs: 1 };
    expect(LatencyStats.safeParse(stats).success).toBe(true);
    // equal neighbours are in order (one repeated sample)
    expect(LatencyStats.safeParse({ ...stats, p90Ms: 2, p95Ms: 2 }).success).toBe(true);
    const swapped = LatencyStats.safeParse({ ...stats, p95Ms: 2.9 });
    expect(swapped.success).toBe(false);
    expect(swapped.error?.issues[0].path).toEqual(['p95Ms']);
    expect(LatencyStats.safeParse({ ...stats, meanMs: 7 }).success).toBe(false);
    // a phase without runs reports zeros
    expect(LatencyStats.safeParse({ n: 0, minMs: 0, p50Ms: 0, p90Ms: 0, p95Ms: 0, p99Ms: 0, maxMs: 0, meanMs: 0, stdMs: 0 }).success).toBe(true);
  });
});

describe("timestamps against the controller's clock", () => {
  it('takes 2020 onwards up to a day ahead, and says why otherwise', () => {
    expect(deviceTimestampIssue(EARLIEST_DEVICE_TS, NOW)).toBeUndefined();
    expect(deviceTimestampIssue(EARLIEST_DEVICE_TS - 1, NOW)).toBe("ts: 2019-12-31T23:59:59.999Z is before 2020: the device's clock is not set");
    expect(deviceTimestampIssue(0, NOW)).toMatch(/^ts: 1970-01-01T00:00:00\.000Z is before 2020/);
    expect(deviceTimestampIssue(NOW + MAX_CLOCK_AHEAD_MS, NOW)).toBeUndefined();
    expect(deviceTimestampIssue(NOW + MAX_CLOCK_AHEAD_MS + 1, NOW)).toMatch(/^ts: 2026-12-08T06:00:00\.001Z is more than a day ahead/);
    // past Date's range the stamp prints as the number it is
    expect(deviceTimestampIssue(9e15, NOW)).toMatch(/^ts: 9000000000000000 is more than a day ahead/);
  });
});

describe('the agent keeps its own results in range', () => {
  it('sends a failed result naming the field when a figure is out of range, and a sound one as it is', () => {
    const sound = valid.results as Result;
    expect(inRange(sound)).toBe(sound);
    const hot = inRange(withValue(sound, 'profile.temperature.peakC', 1e6));
    expect(hot.ok).toBe(false);
    expect(hot.profile).toBeUndefined();
    expect(hot.error).toMatch(/^the measurement is outside the protocol's physical ranges: profile\.temperature\.peakC: /);
    // and the controller takes that failed result
    expect(Result.safeParse(hot).success).toBe(true);
  });
});

describe('one printable line', () => {
  it('joins lines, escapes what a terminal would act on, and cuts long text', () => {
    expect(oneLine('Non-zero status code\n  returned while running Conv node.\r\n Name:conv')).toBe('Non-zero status code returned while running Conv node. Name:conv');
    expect(oneLine('a\u0000b\u001b[31mc\u202ed\u0085')).toBe('a\\x00b\\x1b[31mc\\u202ed\\x85');
    expect(oneLine('lone \ud800 surrogate, pair 😀')).toBe('lone \\ud800 surrogate, pair 😀');
    expect(oneLine('x'.repeat(600))).toBe(`${'x'.repeat(499)}…`);
    expect(oneLine('x'.repeat(500))).toHaveLength(500);
    // a pair at the cut is not split
    expect(oneLine(`${'x'.repeat(8)}😀😀`, 10)).toBe(`${'x'.repeat(8)}…`);
  });
});
