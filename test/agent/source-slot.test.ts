// Serving's source: the slot that opens it at each model's size, the
// telemetry fields made of its counts, the health floor, and the agent's
// --source flag. Real sources (JPEG folders decoded in Node, no ffmpeg needed)
// and the built CLI; no fakes of the sources.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { healthFloorFps } from '../../agent/serve/health-gate.js';
import { SourceSlot, type InputSize, type SlotStats } from '../../agent/serve/source-slot.js';
import { sourceTelemetry } from '../../agent/serve/telemetry-sample.js';
import { openSource } from '../../agent/source/index.js';
import type { WindowStats } from '../../agent/serve/health.js';
import { Telemetry } from '../../protocol/messages.js';
import { PROTOCOL_VERSION } from '../../protocol/topics.js';
import { fixture, fixturesSkipReason, haveFixtures } from '../fixtures.js';
import { expectFailure, expectUsage, runCliApart } from '../helpers/cli.js';

const log = pino({ level: 'silent' });
const window = (meanMs: number | null): WindowStats => ({ frames: meanMs === null ? 0 : 5, fps: meanMs === null ? 0 : 5, p50Ms: meanMs, p95Ms: meanMs, meanMs });
const stats = (over: Partial<SlotStats> = {}): SlotStats => ({
  framesDecoded: 100,
  framesDelivered: 60,
  framesDropped: 40,
  reconnects: 2,
  decodeMsPerFrame: 3.456,
  lastError: 'Connection refused',
  lastGap: { from: '2026-12-07T00:00:00.000Z', to: '2026-12-07T00:00:04.500Z' },
  connected: true,
  openError: null,
  ...over,
});

describe('telemetry of the source', () => {
  it('carries inference from the window and decode, drops since the last message, reconnects and the gap from the source', () => {
    const t = sourceTelemetry(window(12.345), stats(), 31);
    expect(t).toEqual({
      inferenceMs: 12.35,
      decodeMs: 3.46,
      // 40 in total, 31 at the previous message
      droppedFrames: 9,
      droppedTotal: 40,
      reconnects: 2,
      sourceConnected: true,
      sourceError: 'Connection refused',
      sourceGap: { from: Date.UTC(2026, 11, 7), to: Date.UTC(2026, 11, 7) + 4500 },
    });
    // and the message validates against the protocol
    const msg = { v: PROTOCOL_VERSION, ts: 1, fps: 5, latencyP50Ms: 1, latencyP95Ms: 1, memoryMb: 1, temperatureC: null, throttled: null, modelSha256: 'a'.repeat(64), errors: 0, ...t };
    expect(Telemetry.safeParse(msg).success).toBe(true);
  });

  it('the first message counts every drop; a gap still open has no end; no source: inference only', () => {
    expect(sourceTelemetry(window(1), stats(), null).droppedFrames).toBe(40);
    expect(sourceTelemetry(window(1), stats({ lastGap: { from: '2026-12-07T00:00:00.000Z', to: null }, connected: false }), 40)).toMatchObject({ droppedFrames: 0, sourceConnected: false, sourceGap: { from: Date.UTC(2026, 11, 7), to: null } });
    expect(sourceTelemetry(window(null), null, null)).toEqual({ inferenceMs: null });
  });

  it('a reading out of its physical range is no reading, and the protocol refuses one', () => {
    expect(sourceTelemetry(window(1), stats({ decodeMsPerFrame: 61_000 }), null).decodeMs).toBeNull();
    const base = { v: PROTOCOL_VERSION, ts: 1, fps: 5, latencyP50Ms: 1, latencyP95Ms: 1, memoryMb: 1, temperatureC: null, throttled: null, modelSha256: 'a'.repeat(64), errors: 0 };
    expect(Telemetry.safeParse(base).success).toBe(true); // an older agent's message
    expect(Telemetry.safeParse({ ...base, decodeMs: -1 }).success).toBe(false);
    expect(Telemetry.safeParse({ ...base, inferenceMs: 60_001 }).success).toBe(false);
    expect(Telemetry.safeParse({ ...base, droppedFrames: 1.5 }).success).toBe(false);
    expect(Telemetry.safeParse({ ...base, sourceGap: { from: 10, to: 5 } }).success).toBe(false);
    expect(Telemetry.safeParse({ ...base, sourceError: 'x'.repeat(256) }).success).toBe(false);
  });
});

describe('the health floor', () => {
  it("is the agent's floor (0.5 FPS unless set), or the desired state's SLO minFps where that is lower", () => {
    expect(healthFloorFps({ minFps: 0.1 }, 2)).toBe(0.1);
    expect(healthFloorFps({ minFps: 0.3 }, undefined)).toBe(0.3);
    expect(healthFloorFps({ minFps: 30 }, undefined)).toBe(0.5);
    expect(healthFloorFps({ minFps: 30 }, 2)).toBe(2);
    expect(healthFloorFps({}, 2)).toBe(2);
    expect(healthFloorFps({ maxP95Ms: 100 }, undefined)).toBe(0.5);
  });
});

describe.skipIf(!haveFixtures)(`the serving source slot (${haveFixtures ? 'fixtures present' : fixturesSkipReason})`, () => {
  it('opens at the model size, reopens only when the size changes, keeps totals across, and closes', async () => {
    const opened: InputSize[] = [];
    const slot = new SourceSlot(async (size) => {
      opened.push(size);
      return openSource(fixture('images'), { ...size });
    }, 'images', log);
    expect(slot.stats()).toBeNull();
    await slot.use({ width: 160, height: 160 });
    await slot.next();
    await slot.next();
    await slot.use({ width: 160, height: 160 });
    expect(opened).toEqual([{ width: 160, height: 160 }]);
    await slot.use({ width: 320, height: 256 });
    await slot.next();
    expect(opened).toEqual([{ width: 160, height: 160 }, { width: 320, height: 256 }]);
    // two frames from the first source, one from the second
    expect(slot.stats()).toMatchObject({ framesDelivered: 3, framesDecoded: 4, connected: true, openError: null });
    await slot.close();
    await expect(slot.next()).rejects.toThrow(/closed/);
  });

  it('lets go of a camera while a profile measures and reopens it at the same size after; other sources keep running', async () => {
    // No V4L2 device here: a real folder source that says it is /dev/video9, which is all the slot looks at.
    const opened: InputSize[] = [];
    const camera = new SourceSlot(async (size) => {
      opened.push(size);
      return { ...(await openSource(fixture('images'), { ...size })), spec: { kind: 'device' as const, path: '/dev/video9', index: 9 } };
    }, '/dev/video9', log);
    await camera.use({ width: 96, height: 96 });
    await camera.next();
    await camera.suspend();
    expect(camera.stats()).toMatchObject({ connected: false });
    let got = false;
    const waiting = camera.next().then(() => (got = true));
    await new Promise((r) => setTimeout(r, 200));
    expect(got).toBe(false); // no frame while the profile has the camera
    await camera.resume();
    await waiting;
    expect(opened).toEqual([{ width: 96, height: 96 }, { width: 96, height: 96 }]);
    await camera.close();

    const folder = new SourceSlot((size) => openSource(fixture('images'), { ...size }), 'images', log);
    await folder.use({ width: 96, height: 96 });
    await folder.suspend();
    expect(folder.stats()).toMatchObject({ connected: true });
    await folder.next();
    await folder.close();
  });

  it('a source that fails to open is retried with backoff while next() waits, and never throws', async () => {
    const empty = mkdtempSync(path.join(tmpdir(), 'edgefit-slot-'));
    let tries = 0;
    const slot = new SourceSlot(
      async (size) => {
        tries++;
        // the folder gets its image only after the second failure
        if (tries === 2) writeFileSync(path.join(empty, 'bus.jpg'), (await import('node:fs')).readFileSync(fixture('images', 'bus.jpg')));
        return openSource(empty, { ...size });
      },
      empty,
      log,
      { baseMs: 20, capMs: 40 },
    );
    await slot.use({ width: 64, height: 64 });
    expect(slot.stats()).toMatchObject({ connected: false, openError: expect.stringMatching(/no \.jpg or \.png images/) });
    const frame = await slot.next();
    expect(frame.width).toBe(810);
    expect(tries).toBe(2);
    expect(slot.stats()).toMatchObject({ connected: true, openError: null });
    await slot.close();
  });
});

describe('edgefit agent --source', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'edgefit-agent-flag-'));
  mkdirSync(path.join(dir, 'frames'));
  const base = ['agent', '--broker', 'mqtt://127.0.0.1:1', '--id', 'a', '--token', 't', '--state', path.join(dir, 'state')];
  const cli = (args: string[]) => runCliApart([...base, ...args], { limitMs: 15_000 });

  it('answers a source that names nothing usable, or both --source and --frames, with one line and exit 2', async () => {
    expectUsage(await cli(['--source', path.join(dir, 'nope.mp4')]), /^edgefit agent: --source .*nope\.mp4: no such file or folder\n$/);
    expectUsage(await cli(['--source', 'ftp://cam/1']), /--source ftp:\/\/cam\/1: unknown scheme 'ftp:\/\/'/);
    expectUsage(await cli(['--source', '/dev/video']), /a V4L2 device needs its number/);
    expectUsage(await cli(['--source', path.join(dir, 'frames'), '--frames', path.join(dir, 'frames')]), /give --source or --frames, not both/);
    expectUsage(await cli(['--frames', path.join(dir, 'nope')]), /--frames .*nope: no such file or folder/);
  }, 60_000);

  it('will not start on a stream without ffmpeg on PATH: one line, exit 1', async () => {
    const r = await runCliApart([...base, '--source', 'rtsp://user:secret@cam.local/1'], { env: { PATH: '/nonexistent' }, limitMs: 15_000 });
    expectFailure(r, /^edgefit agent --source rtsp:\/\/user:\*\*\*@cam\.local\/1: a stream source is decoded by ffmpeg, and ffmpeg\/ffprobe are not on PATH/);
    expect(r.stderr).not.toContain('secret');
  }, 30_000);
});
