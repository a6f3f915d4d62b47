// `edgefit detect` on video files, folders and streams, as a user's script
// runs it: the built CLI as a child, stdout and stderr apart.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture, fixturesSkipReason, haveFixtures } from '../fixtures.js';
import { expectUsage, runCliApart } from '../helpers/cli.js';
import { MjpegServer } from '../helpers/mjpeg-server.js';
import { encodeFixtureClip, ffmpegSkipReason, haveFfmpeg } from '../helpers/video.js';

interface FrameLine {
  source: string;
  frame: number;
  receivedAt: string;
  elapsedMs: number;
  width: number;
  height: number;
  detections: Array<{ className: string; score: number; box: number[] }>;
  timings: { preprocessMs: number; inferenceMs: number; postprocessMs: number };
}

const MODEL = fixture('models', 'yolov8n_int8_qdq.onnx');
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'edgefit-detect-sources-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.skipIf(!haveFixtures)(`edgefit detect on sources, flags and bad input (${fixturesSkipReason})`, () => {
  it('says what is wrong with a flag or a source in one line', async () => {
    const bus = fixture('images', 'bus.jpg');
    expectUsage(await runCliApart(['detect', MODEL, bus, '--max-frames', '0']), /--max-frames must be an integer in \[1, /);
    expectUsage(await runCliApart(['detect', MODEL, bus, '--duration', '0']), /--duration must be a number in \[0\.001, /);
    expectUsage(await runCliApart(['detect', MODEL, bus, '--max-frames', '3']), /--max-frames applies to video files, folders, devices and streams; these are all images/);
    for (const [source, message] of [
      ['file:///tmp/clip.mp4', /file:\/\/ URLs are not taken; give the path itself/],
      ['/dev/video', /needs its number, e\.g\. \/dev\/video0/],
      ['ftp://cam/x', /unknown scheme 'ftp:\/\/'/],
      [path.join(dir, 'missing.mp4'), /missing\.mp4: no such file or folder/],
    ] as const) {
      const r = await runCliApart(['detect', MODEL, source, '--json']);
      expect(r.code, r.stderr).toBe(1);
      expect(r.stdout).toBe('');
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(message);
    }
  });

  it('a folder gives one JSON line per image, in name order', async () => {
    const r = await runCliApart(['detect', MODEL, fixture('images'), '--json'], { limitMs: 60_000 });
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as FrameLine);
    expect(lines.map((l) => [l.frame, l.width, l.height])).toEqual([[0, 810, 1080], [1, 1280, 720]]);
  });
});

describe.skipIf(!haveFixtures || !haveFfmpeg)(`edgefit detect on video and streams (${haveFfmpeg ? fixturesSkipReason : ffmpegSkipReason})`, () => {
  it('an H.264 clip: one JSON line per frame with index and times, the bus and three persons, --max-frames stops it', async () => {
    const clip = encodeFixtureClip(dir);
    const r = await runCliApart(['detect', MODEL, clip, '--json', '--max-frames', '12'], { limitMs: 120_000 });
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as FrameLine);
    expect(lines.map((l) => l.frame)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    for (const l of lines) {
      expect(l).toMatchObject({ source: clip, width: 1280, height: 1080 });
      expect(Date.parse(l.receivedAt)).not.toBeNaN();
      expect(l.timings.inferenceMs).toBeGreaterThan(0);
    }
    expect(lines.map((l) => l.elapsedMs)).toEqual([...lines.map((l) => l.elapsedMs)].sort((a, b) => a - b));
    const first = lines[0].detections.map((d) => d.className);
    expect(first.filter((c) => c === 'bus')).toHaveLength(1);
    expect(first.filter((c) => c === 'person').length).toBeGreaterThanOrEqual(3);
    expect(lines[11].detections.some((d) => d.className === 'tie')).toBe(true); // zidane.jpg from 2 s on
    expect(r.stderr).toMatch(/12 frame\(s\) detected, \d+ decoded, 0 dropped, 0 reconnect\(s\), decode [\d.]+ ms\/frame/);

    // the text form, to the end of the clip
    const text = await runCliApart(['detect', MODEL, clip], { limitMs: 120_000 });
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout.match(/^\S+ #\d+ \+[\d.]+ s \(1280×1080\): \d+ object\(s\)/gm)).toHaveLength(20);
    expect(text.stdout).toMatch(/^ {2}bus {14}0\.\d{3} {2}\[\d+, \d+, \d+, \d+\]$/m);
  });

  it('an MJPEG stream: --duration stops it, frames keep their index', async () => {
    const server = new MjpegServer(readFileSync(fixture('images', 'zidane.jpg')), 10);
    await server.start();
    try {
      const r = await runCliApart(['detect', MODEL, server.url, '--json', '--duration', '3'], { limitMs: 60_000 });
      expect(r.code, r.stderr).toBe(0);
      const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as FrameLine);
      expect(lines.length).toBeGreaterThan(0);
      expect(lines.map((l) => l.frame)).toEqual(lines.map((_, i) => i));
      expect(lines[0].detections.filter((d) => d.className === 'person').length).toBeGreaterThanOrEqual(2);
      expect(r.stderr).toMatch(/frame\(s\) detected, \d+ decoded, \d+ dropped, 0 reconnect\(s\)/);
    } finally {
      await server.stop();
    }
  });
});

