// The agent's timing at fleet scale: heartbeats spread over the period by a
// per-device phase, and reconnects that back off with jitter.
import { describe, expect, it } from 'vitest';
import { heartbeatPhaseMs, nextHeartbeatDelayMs } from '../../agent/heartbeat-schedule.js';
import { RECONNECT_BACKOFF, reconnectDelayMs } from '../../agent/reconnect-backoff.js';

const id = (i: number) => `dev-${String(i).padStart(5, '0')}`;

describe('heartbeat phase', () => {
  it('spreads 10,000 devices evenly over a 10 s period: every 1 s slice holds 10% ± 1.5%', () => {
    const periodMs = 10_000;
    const perSecond = new Array<number>(10).fill(0);
    const phases = Array.from({ length: 10_000 }, (_, i) => heartbeatPhaseMs(id(i), periodMs));
    expect(Math.min(...phases)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...phases)).toBeLessThan(periodMs);
    for (const phase of phases) perSecond[Math.floor(phase / 1000)]++;
    // The cron tick put all 10,000 in one slice; a uniform spread puts 1,000 in each.
    for (const n of perSecond) expect(Math.abs(n - 1000)).toBeLessThanOrEqual(150);
  });

  it('is the same for a device every time (no state, no randomness)', () => {
    expect(heartbeatPhaseMs('cam-7', 10_000)).toBe(heartbeatPhaseMs('cam-7', 10_000));
    expect(heartbeatPhaseMs('cam-7', 10_000)).not.toBe(heartbeatPhaseMs('cam-8', 10_000));
  });

  it('waits until the next instant at the phase, a whole period when it is that instant now', () => {
    // period 10 s, phase 3.2 s: the slots are …, 20 s + 3.2, 30 s + 3.2, …
    expect(nextHeartbeatDelayMs(20_000, 10_000, 3200)).toBe(3200);
    expect(nextHeartbeatDelayMs(25_000, 10_000, 3200)).toBe(8200);
    expect(nextHeartbeatDelayMs(23_200, 10_000, 3200)).toBe(10_000);
    expect(nextHeartbeatDelayMs(23_199, 10_000, 3200)).toBe(1);
  });

  it('keeps one device a period apart however late its timer fired', () => {
    const periodMs = 10_000;
    const phase = heartbeatPhaseMs('pi-a', periodMs);
    let now = 1_700_000_000_000;
    const fired: number[] = [];
    for (let k = 0; k < 5; k++) {
      now += nextHeartbeatDelayMs(now, periodMs, phase);
      fired.push(now);
      now += 700; // the send took 0.7 s, or the timer fired late
    }
    for (const t of fired) expect(((t % periodMs) + periodMs) % periodMs).toBe(phase);
    for (let k = 1; k < fired.length; k++) expect(fired[k] - fired[k - 1]).toBe(periodMs);
  });
});

describe('reconnect backoff', () => {
  it('doubles the ceiling from 1 s to 60 s and draws each wait in its upper half', () => {
    const limits = RECONNECT_BACKOFF;
    const ceilings = [1000, 2000, 4000, 8000, 16_000, 32_000, 60_000, 60_000];
    ceilings.forEach((ceiling, attempt) => {
      expect(reconnectDelayMs(attempt, () => 0, limits)).toBe(ceiling / 2);
      expect(reconnectDelayMs(attempt, () => 0.999999, limits)).toBe(ceiling - 1);
    });
    expect(reconnectDelayMs(1000, () => 0.5, limits)).toBe(45_000);
  });

  it('spreads 3,000 devices that lost the broker together over half a second, then a second, instead of one instant', () => {
    for (const [attempt, from, to] of [[0, 500, 1000], [1, 1000, 2000]]) {
      const waits = Array.from({ length: 3000 }, () => reconnectDelayMs(attempt));
      expect(Math.min(...waits)).toBeGreaterThanOrEqual(from);
      expect(Math.max(...waits)).toBeLessThan(to);
      // ten equal buckets over the range, each holding 10% ± 3% of the devices
      const buckets = new Array<number>(10).fill(0);
      for (const w of waits) buckets[Math.floor(((w - from) / (to - from)) * 10)]++;
      for (const b of buckets) expect(Math.abs(b - 300)).toBeLessThanOrEqual(90);
    }
  });
});
