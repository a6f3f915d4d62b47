import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ffmpegInfo, openSource, SourceEndedError, type StatsSource } from '../../../agent/source/index.js';
import { openDetector, type Detector } from '../../../compress/detect/detector.js';
import { readImage } from '../../../compress/detect/image.js';
import { Letterboxer, type LetterboxedImage } from '../../../compress/detect/letterbox.js';
import type { Detection } from '../../../compress/detect/postprocess.js';
import { fixture, fixturesSkipReason, haveFixtures } from '../../fixtures.js';
import { MjpegServer } from '../../helpers/mjpeg-server.js';
import { encodeFixtureClip, ffmpegPath, ffmpegSkipReason, haveFfmpeg } from '../../helpers/video.js';
import { waitFor } from '../../helpers/wait.js';
import { fixtureFloatYolov8n } from '../models.js';

/** An MJPEG camera at 10 fps in a child process (node -e); prints its port. */
const CAMERA_PROCESS = `
const jpeg = require('node:fs').readFileSync(process.argv[1]);
const clients = new Set();
const server = require('node:http').createServer((req, res) => {
  res.writeHead(200, { 'Content-Type': 'multipart/x-mixed-replace; boundary=frame' });
  clients.add(res);
  res.on('close', () => clients.delete(res));
});
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
setInterval(() => {
  for (const r of clients) r.write('--frame\\r\\nContent-Type: image/jpeg\\r\\nContent-Length: ' + jpeg.length + '\\r\\n\\r\\n'), r.write(jpeg), r.write('\\r\\n');
}, 100);
`;

const dir = mkdtempSync(path.join(tmpdir(), 'edgefit-sources-'));
const PERSON = 0;
const BUS = 5;

function iou(a: readonly number[], b: readonly number[]): number {
  const w = Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0]));
  const h = Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]));
  const inter = w * h;
  return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter);
}

/** Reads frames until the source ends. */
async function drain(source: StatsSource): Promise<LetterboxedImage[]> {
  const frames: LetterboxedImage[] = [];
  for (;;) {
    try {
      frames.push((await source.next()) as LetterboxedImage);
    } catch (err) {
      if (err instanceof SourceEndedError) return frames;
      throw err;
    }
  }
}

describe('sources without ffmpeg', () => {
  it('JPEG/PNG files and folders still work; video and streams fail naming ffmpeg', async () => {
    const noFfmpeg = { width: 64, height: 64, searchPath: '/nonexistent' };
    const video = path.join(dir, 'x.mp4');
    writeFileSync(video, 'not really');
    await expect(openSource(video, noFfmpeg)).rejects.toThrow(/a video source is decoded by ffmpeg, and ffmpeg is not on PATH \(Debian: apt install ffmpeg\)/);
    await expect(openSource('rtsp://cam.local/1', noFfmpeg)).rejects.toThrow(/stream source is decoded by ffmpeg/);
    expect(await ffmpegInfo('/nonexistent')).toBeNull();
    if (!haveFixtures) return;
    const folder = await openSource(fixture('images'), { ...noFfmpeg, loop: false });
    const frames = await drain(folder);
    expect(frames.map((f) => [f.width, f.height])).toEqual([[810, 1080], [1280, 720]]); // bus.jpg, zidane.jpg in name order
    expect(folder.stats()).toMatchObject({ framesDecoded: 2, framesDelivered: 2, framesDropped: 0, reconnects: 0, lastError: null });
  });
});

describe.skipIf(!haveFfmpeg)(`ffmpeg sources (${ffmpegSkipReason})`, () => {
  it('reports the ffmpeg version for the inventory', async () => {
    const info = await ffmpegInfo();
    expect(info?.path).toBe(ffmpegPath);
    expect(info?.version).toMatch(/^\d+\.\d+/);
  });

  it("ffmpeg's letterbox puts the picture where the arithmetic says, grey 114 around it", async () => {
    // 100×51 red into 64: scale 0.64 → 64×33, 15 grey rows above, 16 below (worked out in spec.test.ts)
    const clip = path.join(dir, 'red.mkv');
    // three raw red frames, stored losslessly in RGB (lavfi's colour source would round 51 to 50)
    const red = new Uint8Array(100 * 51 * 3 * 3).map((_, i) => (i % 3 === 0 ? 255 : 0));
    execFileSync(ffmpegPath!, ['-v', 'error', '-y', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', '100x51', '-r', '5', '-i', 'pipe:0', '-c:v', 'ffv1', '-pix_fmt', 'bgr0', clip], { input: red });
    const source = await openSource(clip, { width: 64, height: 64, pace: 'every', loop: false });
    const frames = await drain(source);
    expect(frames).toHaveLength(3);
    const f = frames[0];
    expect(f.letterbox).toMatchObject({ srcWidth: 100, srcHeight: 51, newWidth: 64, newHeight: 33, padX: 0, padY: 15 });
    const rowColours = Array.from({ length: 64 }, (_, y) => {
      const row = new Set<string>();
      for (let x = 0; x < 64; x++) row.add(Array.from(f.rgb.subarray((y * 64 + x) * 3, (y * 64 + x) * 3 + 3)).join(','));
      return [...row].join(' ');
    });
    expect(rowColours.slice(0, 15).every((c) => c === '114,114,114')).toBe(true);
    expect(rowColours.slice(15, 48).every((c) => c === '255,0,0')).toBe(true);
    expect(rowColours.slice(48).every((c) => c === '114,114,114')).toBe(true);
    expect(source.stats()).toMatchObject({ framesDecoded: 3, framesDelivered: 3, framesDropped: 0 });
  });

  it('a video file ffmpeg cannot read is one clear line', async () => {
    const bad = path.join(dir, 'broken.mp4');
    writeFileSync(bad, Buffer.alloc(4096, 7));
    const err = await openSource(bad, { width: 64, height: 64 }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/broken\.mp4: ffprobe: .*broken\.mp4/);
    expect((err as Error).message).not.toContain('\n');
  });

  it('latest frame wins: frames that arrive while nobody reads are dropped and counted', async () => {
    // 5 fps read at its own rate: wait for several frames without reading, then read one
    const clip = path.join(dir, 'grey.mkv');
    execFileSync(ffmpegPath!, ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc=s=64x48:r=5:d=30', '-c:v', 'ffv1', clip]);
    const source = await openSource(clip, { width: 64, height: 64, pace: 'latest', loop: false });
    try {
      await waitFor(() => source.stats().framesDecoded >= 4, 30_000, 'four decoded frames');
      await source.next();
      const s = source.stats();
      // every decoded frame is delivered, dropped, or (at most one) waiting
      expect(s.framesDelivered).toBe(1);
      expect(s.framesDropped).toBeGreaterThanOrEqual(3);
      expect(s.framesDecoded - s.framesDelivered - s.framesDropped).toBeLessThanOrEqual(1);
    } finally {
      await source.close();
    }
  });

  describe.skipIf(!haveFixtures)(`on the fixture photos (${fixturesSkipReason})`, () => {
    let detector: Detector;
    beforeAll(async () => {
      detector = await openDetector(fixtureFloatYolov8n(dir));
    });
    afterAll(async () => {
      await detector?.release();
    });

    it('an H.264 clip of bus.jpg and zidane.jpg: the bus and at least three persons, boxes in the clip\'s pixels', async () => {
      const clip = encodeFixtureClip(dir);
      const source = await openSource(clip, { width: detector.inputWidth, height: detector.inputHeight, pace: 'every', loop: false });
      const perFrame: Detection[][] = [];
      for (const frame of await drain(source)) {
        expect(frame.letterbox).toMatchObject({ srcWidth: 1280, srcHeight: 1080 });
        perFrame.push((await detector.detect(frame)).detections);
      }
      expect(perFrame).toHaveLength(20); // 4 s at 5 fps
      const busFrame = perFrame[0];
      expect(busFrame.filter((d) => d.classId === BUS)).toHaveLength(1);
      expect(busFrame.filter((d) => d.classId === PERSON && d.score > 0.5).length).toBeGreaterThanOrEqual(3);
      // bus.jpg sits at x 235..1045 of the clip: its bus box is the photo's, shifted by 235
      const bus = busFrame.find((d) => d.classId === BUS)!.box;
      expect(bus[0]).toBeGreaterThan(235 - 5);
      expect(bus[2]).toBeLessThan(235 + 810 + 5);
      expect(perFrame[19].filter((d) => d.classId === PERSON && d.score > 0.5)).toHaveLength(2); // zidane.jpg
      const s = source.stats();
      expect(s).toMatchObject({ framesDecoded: 20, framesDelivered: 20, framesDropped: 0, reconnects: 0, lastError: null });
      expect(s.decodeMsPerFrame).toBeGreaterThan(0);
    });

    it('a pre-letterboxed frame gives the JPEG path\'s boxes: exactly on the same pixels, within a few pixels from ffmpeg\'s resize', async () => {
      for (const name of ['bus.jpg', 'zidane.jpg']) {
        const image = await readImage(fixture('images', name));
        const jpegPath = (await detector.detect(image)).detections;
        // the same letterboxed bytes handed over as a pre-letterboxed frame
        const { tensor, transform } = new Letterboxer(detector.inputWidth, detector.inputHeight).run(image);
        const plane = detector.inputWidth * detector.inputHeight;
        const rgb = new Uint8Array(plane * 3);
        for (let i = 0; i < plane; i++) for (let c = 0; c < 3; c++) rgb[i * 3 + c] = Math.round(tensor[c * plane + i] * 255);
        const same = (await detector.detect({ width: detector.inputWidth, height: detector.inputHeight, rgb, letterbox: { ...transform } })).detections;
        expect(same).toEqual(jpegPath);
        // ffmpeg decodes and resizes itself (swscale area vs cv2 linear: 2.1 levels apart on bus.jpg)
        const source = await openSource({ kind: 'video', path: fixture('images', name) }, { width: detector.inputWidth, height: detector.inputHeight, pace: 'every', loop: false });
        const frame = await source.next();
        await source.close();
        const viaFfmpeg = (await detector.detect(frame)).detections;
        const deltas: number[] = [];
        for (const d of jpegPath.filter((x) => x.score > 0.5)) {
          const match = viaFfmpeg.find((e) => e.classId === d.classId && iou(e.box, d.box) > 0.95);
          expect(match, `${name}: ${detector.className(d.classId)} at [${d.box.map(Math.round)}]`).toBeDefined();
          deltas.push(...d.box.map((v, k) => Math.abs(v - match!.box[k])));
        }
        deltas.sort((a, b) => a - b);
        // measured: median 0.2 px, largest 4.7 px (the top of the person cut by bus.jpg's right edge)
        expect(deltas[Math.floor(deltas.length / 2)]).toBeLessThan(1.5);
        expect(deltas[deltas.length - 1]).toBeLessThan(8);
      }
    });

    it('keeps decoding while the main thread is blocked, as onnxruntime-node blocks it for each inference', async () => {
      // the camera in its own process: one in this thread would stop sending too
      const camera = spawn(process.execPath, ['-e', CAMERA_PROCESS, fixture('images', 'zidane.jpg')], { stdio: ['ignore', 'pipe', 'inherit'] });
      try {
        const port = await new Promise<string>((resolve) => camera.stdout.once('data', (d: Buffer) => resolve(d.toString().trim())));
        // a model-sized frame (1.2 MB) is larger than a pipe's 64 KiB: a reader in this thread would hold ffmpeg up
        const source = await openSource(`http://127.0.0.1:${port}/stream.mjpg`, { width: 640, height: 640 });
        try {
          await source.next();
          const before = source.stats();
          // a 1.5 s synchronous stall of this thread, as a slow inference is: 15 frames are sent meanwhile
          const until = Date.now() + 1500;
          while (Date.now() < until);
          await source.next();
          const after = source.stats();
          expect(after.framesDelivered).toBe(2);
          expect(after.framesDropped - before.framesDropped).toBeGreaterThanOrEqual(3);
        } finally {
          await source.close();
        }
      } finally {
        camera.kill();
      }
    });

    it('a camera that hangs with its socket open is restarted after stallMs', async () => {
      const server = new MjpegServer(readFileSync(fixture('images', 'zidane.jpg')), 10);
      await server.start();
      const lost: string[] = [];
      const source = await openSource(server.url, {
        width: 64,
        height: 64,
        stallMs: 1500,
        backoff: { baseMs: 100, capMs: 200 },
        onEvent: (e) => e.type === 'lost' && lost.push(e.error),
      });
      try {
        await source.next();
        server.frozen = true;
        await waitFor(() => lost.length > 0, 30_000, 'the stall to be noticed');
        expect(lost[0]).toBe('no frame for 1.5 s');
        server.frozen = false;
        await waitFor(() => source.stats().reconnects === 1, 30_000, 'the reconnect');
        const s = source.stats();
        expect(s.lastError).toBe('no frame for 1.5 s');
        expect(s.lastGap?.to).not.toBeNull();
      } finally {
        await source.close();
        await server.stop();
      }
    });

    it('an MJPEG camera cut mid-run and restored: the source reconnects, never throws, and its stats show the gap', async () => {
      const server = new MjpegServer(readFileSync(fixture('images', 'bus.jpg')), 10);
      await server.start();
      const events: string[] = [];
      const source = await openSource(server.url, {
        width: detector.inputWidth,
        height: detector.inputHeight,
        backoff: { baseMs: 200, capMs: 1000 },
        onEvent: (e) => events.push(e.type === 'lost' ? `lost: ${e.error}` : `connected${e.reconnect ? ' again' : ''} ${e.width}×${e.height}`),
      });
      // a serving loop: read, detect, repeat; it must never see an error
      let frames = 0;
      let buses = 0;
      let failure: unknown;
      let running = true;
      const loop = (async () => {
        while (running) {
          try {
            const f = await source.next();
            if ((await detector.detect(f)).detections.some((d) => d.classId === BUS)) buses++;
            frames++;
          } catch (err) {
            if (!(err instanceof SourceEndedError && !running)) failure = err;
            return;
          }
        }
      })();
      try {
        await waitFor(() => frames >= 2, 60_000, 'frames from the camera');
        await server.cut();
        const cutAt = Date.now();
        await waitFor(() => source.stats().lastGap !== null && !source.stats().connected, 30_000, 'the source to notice the cut');
        const noticedAt = Date.now();
        await waitFor(() => events.some((e) => /^lost: ffprobe: .*Connection refused/.test(e)), 30_000, 'a failed reconnect while the camera is off');
        const before = frames;
        const restoredAt = Date.now();
        await server.restore();
        await waitFor(() => source.stats().reconnects >= 1 && frames > before + 1, 60_000, 'the reconnect and new frames');
        const s = source.stats();
        expect(failure).toBeUndefined();
        expect(s.connected).toBe(true);
        expect(s.reconnects).toBe(1);
        const from = Date.parse(s.lastGap!.from);
        const to = Date.parse(s.lastGap!.to!);
        // the gap runs from the last frame before the loss (frames already in the pipe still count) to the first after
        expect(from).toBeGreaterThanOrEqual(cutAt - 60_000);
        expect(from).toBeLessThanOrEqual(noticedAt);
        expect(to).toBeGreaterThanOrEqual(restoredAt);
        expect(s.lastError).toMatch(/Connection refused|stream ended|ffmpeg/);
        expect(events[0]).toBe('connected 810×1080');
        expect(events.at(-1)).toBe('connected again 810×1080');
        expect(buses).toBe(frames);
      } finally {
        running = false;
        await source.close();
        await loop;
        await server.stop();
      }
      expect(failure).toBeUndefined();
    });
  });
});
