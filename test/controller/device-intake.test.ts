// The controller's intake of device messages (controller/device-dispatch.ts):
// a message outside its physical range or stamped by a clock the controller
// cannot believe is dropped with one warning that names the reason, and its
// handler never sees it.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { validMessages } from '../../bench/fuzz/device-messages.js';
import { openDb } from '../../controller/db.js';
import { deviceDispatcher, type DeviceHandlers } from '../../controller/device-dispatch.js';
import { ProfileStore } from '../../controller/profiles.js';
import type { Result } from '../../protocol/messages.js';
import { deviceTopic } from '../../protocol/topics.js';
import { captureLogger } from '../helpers/log.js';

const NOW = Date.UTC(2026, 11, 7, 6, 0, 0);

describe('device message intake', () => {
  it('hands on what is in range, and drops the rest with one line each', () => {
    const { log, lines } = captureLogger();
    const seen: string[] = [];
    const record = (channel: string) => (_id: string, message: { ts: number }) => void seen.push(`${channel}@${message.ts}`);
    const handlers = Object.fromEntries(Object.keys(validMessages('pi-a', NOW)).map((c) => [c, record(c)])) as unknown as DeviceHandlers;
    const handle = deviceDispatcher(handlers, { isRegistered: () => true, log, now: () => NOW });
    const send = (channel: keyof ReturnType<typeof validMessages>, message: unknown) => handle(deviceTopic('pi-a', channel), Buffer.from(JSON.stringify(message)), false);
    const v = validMessages('pi-a', NOW);

    send('heartbeat', v.heartbeat);
    send('heartbeat', { ...v.heartbeat, ts: 8.64e15 });
    send('heartbeat', { ...v.heartbeat, ts: Date.UTC(2019, 0, 1) });
    send('telemetry', { ...v.telemetry, fps: 1e308 });
    send('telemetry', { ...v.telemetry, ts: NOW - 3_600_000 });
    expect(seen).toEqual([`heartbeat@${NOW}`, `telemetry@${NOW - 3_600_000}`]);
    const drops = lines().filter((l) => String(l.msg).endsWith('dropped'));
    expect(drops.map((l) => [l.msg, l.channel, l.reason])).toEqual([
      ['malformed heartbeat dropped', 'heartbeat', "ts: +275760-09-13T00:00:00.000Z is more than a day ahead of the controller's clock (2026-12-07T06:00:00.000Z)"],
      ['malformed heartbeat dropped', 'heartbeat', "ts: 2019-01-01T00:00:00.000Z is before 2020: the device's clock is not set"],
      ['malformed telemetry dropped', 'telemetry', expect.stringMatching(/^fps: /)],
    ]);
  });
});

describe('rows stored before the ranges', () => {
  it('are read as they are: the ranges guard the intake, not the reads', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'edgefit-old-rows-'));
    const db = openDb(dir);
    try {
      const store = new ProfileStore(db);
      // what the first probe got stored, written as the old intake did (no ranges)
      const old = validMessages('pi-a', NOW).results as Result;
      const absurd = { ...old, jobId: 'old-1', profile: { ...old.profile!, modelFps: 1e308, cpuPct: -500 } };
      expect(store.record(absurd, NOW)).toBe(true);
      const [row] = store.forDevice('pi-a');
      expect(row.profile?.modelFps).toBe(1e308);
      expect(store.get('old-1', 'pi-a')?.ok).toBe(true);
    } finally {
      db.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
