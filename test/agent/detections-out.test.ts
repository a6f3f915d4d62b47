// Detections out of a real agent (issue #19): the agent serves the H.264 clip
// of bus.jpg and zidane.jpg with the fixture YOLOv8n and writes JSON lines,
// publishes rate-limited records on MQTT only when asked, and sends annotated
// snapshots that the dashboard's device view shows (real Chromium,
// screenshot in test-output/dashboard). Real controller, agents, ffmpeg,
// onnxruntime.
import jpeg from 'jpeg-js';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeFor, parseDeviceTopic } from '../../protocol/channels.js';
import { DetectionsMessage, SNAPSHOT_MAX_BYTES } from '../../protocol/messages.js';
import { allDevicesTopic } from '../../protocol/topics.js';
import { haveChromium, launchChromium, screenshotPath } from '../controller/dashboard-browser.js';
import { fixturesSkipReason, haveFixtures } from '../fixtures.js';
import { encodeFixtureClip, ffmpegSkipReason, haveFfmpeg } from '../helpers/video.js';
import { freePort } from '../helpers/free-port.js';
import { waitFor } from '../helpers/wait.js';
import { SLOW_MODEL_KEEPALIVE_S, TestFleet } from './fleet.js';
import { builtYolov8n, fixtureFloatYolov8n } from './models.js';

const skip = !haveFfmpeg ? ffmpegSkipReason : !haveFixtures ? fixturesSkipReason : '';

function readLines(file: string): DetectionsMessage[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .slice(0, -1) // the last piece: '' after a whole line, or a line still being written
    .map((l) => DetectionsMessage.parse(JSON.parse(l)));
}

/** The first `event: detections` of a Server-Sent Events stream, parsed. */
async function firstSseRecord(url: string): Promise<DetectionsMessage> {
  const abort = new AbortController();
  const res = await fetch(url, { signal: abort.signal });
  expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
  const reader = res.body!.getReader();
  let text = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`the stream ended before a record: ${text.slice(0, 200)}`);
      text += Buffer.from(value).toString('utf8');
      const m = /event: detections\ndata: (.*)\n\n/.exec(text);
      if (m) return DetectionsMessage.parse(JSON.parse(m[1]));
    }
  } finally {
    abort.abort();
  }
}

describe.skipIf(skip !== '')(`detections out of an agent serving a clip (${skip || 'ffmpeg and fixtures present'})`, () => {
  const fleet = new TestFleet();
  const dir = mkdtempSync(path.join(tmpdir(), 'edgefit-detections-out-'));
  /** Arrival times of `detections` messages per device, as a subscriber with the controller's rights sees them. */
  const arrivals = new Map<string, number[]>();

  beforeAll(async () => {
    await fleet.start();
    const raw = await fleet.rawController();
    raw.on('message', (topic, payload) => {
      const parsed = parseDeviceTopic(topic);
      if (parsed?.channel !== 'detections') return;
      expect(decodeFor('detections', payload).ok).toBe(true);
      arrivals.set(parsed.id, [...(arrivals.get(parsed.id) ?? []), Date.now()]);
    });
    await raw.subscribeAsync(allDevicesTopic('detections'), { qos: 0 });
    afterAll(() => raw.endAsync());
  });
  afterAll(() => fleet.close());

  it('writes lines with a bus and persons in source pixels, publishes at most 2 a second with the flag and none without, and shows the snapshot', async () => {
    const clip = encodeFixtureClip(dir);
    const file = path.join(dir, 'detections.jsonl');
    const model = await fleet.controller.artifacts.put(fixtureFloatYolov8n(fleet.scratch), { name: 'yolov8n-float.onnx' });
    const small = await fleet.controller.artifacts.put(builtYolov8n(fleet.scratch, 160), { name: 'yolov8n-160.onnx' });
    const localPort = await freePort();
    const on = fleet.agent('det-on', 10, { args: ['--source', clip, '--threads', '2', '--detections', file, '--publish-detections', '2', '--snapshot-every', '1', '--local-port', String(localPort)], keepaliveS: SLOW_MODEL_KEEPALIVE_S });
    // det-off: no MQTT records and no snapshots, its records on stdout instead (and its logs on stderr)
    const off = fleet.agent('det-off', 10, { args: ['--source', clip, '--threads', '1', '--snapshot-every', '0', '--detections', '-'] });
    let offStdout = '';
    let offStderr = '';
    off.child.stdout!.on('data', (d: Buffer) => (offStdout += d.toString()));
    off.child.stderr!.on('data', (d: Buffer) => (offStderr += d.toString()));
    await waitFor(() => fleet.controller.registry.get('det-on')?.online && fleet.controller.registry.get('det-off')?.online, 30_000, 'both agents online');
    await fleet.controller.setDesired('det-on', { model, candidateId: 'n640', threads: 2, slo: { minFps: 0.2 } });
    await fleet.controller.setDesired('det-off', { model: small, candidateId: 'n160', threads: 1, slo: { minFps: 0.2 } });
    for (const id of ['det-on', 'det-off']) {
      const r = await waitFor(() => {
        const s = fleet.controller.live.get(id).reported;
        return s?.state === 'healthy' || s?.state === 'failed' || s?.state === 'rolled-back' ? s : undefined;
      }, 120_000, `${id} to serve`);
      expect(r.state, r.error ?? '').toBe('healthy');
    }

    // JSON lines: the clip shows bus.jpg for 2 s then zidane.jpg, looped; bus.jpg alone has a bus and four people.
    const line = await waitFor(() => readLines(file).find((l) => l.boxes.some((b) => b.className === 'bus') && l.boxes.filter((b) => b.className === 'person').length >= 3), 90_000, 'a line with a bus and three persons');
    expect(line.sha256).toBe(model.sha256);
    expect(line.candidateId).toBe('n640');
    expect(line.frame).toEqual({ width: 1280, height: 1080 });
    // Source pixels: bus.jpg (810×1080) sits at x 235..1045 of the 1280×1080 frame; in the 640×640 input it would be
    // under half that wide (scale 0.5), so a bus wider than 500 px inside 200..1080 is in the frame's own pixels.
    const bus = line.boxes.find((b) => b.className === 'bus')!;
    expect(bus.box[2] - bus.box[0]).toBeGreaterThan(500);
    expect(bus.box[0]).toBeGreaterThan(200);
    expect(bus.box[2]).toBeLessThan(1080);
    for (const b of line.boxes) {
      expect(b.box[0]).toBeGreaterThanOrEqual(0);
      expect(b.box[2]).toBeLessThanOrEqual(1280);
      expect(b.box[3]).toBeLessThanOrEqual(1080);
    }
    const seqs = readLines(file).map((l) => l.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));

    // Server-Sent Events on the agent's local API: the same records, as they are served.
    const event = await firstSseRecord(`http://127.0.0.1:${localPort}/v1/detections`);
    expect(event.sha256).toBe(model.sha256);
    expect(event.seq).toBeGreaterThan(line.seq);

    // MQTT: count over a few seconds once records flow (allow +1 for where the window falls).
    await waitFor(() => (arrivals.get('det-on')?.length ?? 0) > 0, 60_000, 'the first detections message');
    const from = Date.now();
    await new Promise((r) => setTimeout(r, 6000));
    const to = Date.now();
    const inWindow = (arrivals.get('det-on') ?? []).filter((t) => t >= from && t <= to);
    expect(inWindow.length).toBeLessThanOrEqual(2 * ((to - from) / 1000) + 1);
    const all = arrivals.get('det-on')!;
    for (const t of all) expect(all.filter((u) => u >= t && u < t + 1000).length, 'messages within one second').toBeLessThanOrEqual(3);
    // The agent without --publish-detections served through the same seconds and sent none.
    expect(fleet.controller.live.get('det-off').telemetry?.fps ?? 0).toBeGreaterThan(0);
    expect(arrivals.get('det-off') ?? []).toEqual([]);
    const latest = await fleet.api<DetectionsMessage>('/api/devices/det-on/detections');
    expect(latest.status).toBe(200);
    expect(latest.body.sha256).toBe(model.sha256);
    expect((await fleet.api('/api/devices/det-off/detections')).status).toBe(404);
    // stdout carries records only, one a line, of the 160 model; the logs went to stderr
    const stdoutLines = offStdout.split('\n').slice(0, -1); // the last piece may be a line still being written
    expect(stdoutLines.length).toBeGreaterThan(0);
    for (const l of stdoutLines) expect(DetectionsMessage.parse(JSON.parse(l)).sha256).toBe(small.sha256);
    expect(offStderr).toContain('"msg":"agent connected"');

    // The snapshot: under the cap, a JPEG of the size it claims, with the boxes of its frame.
    const snap = await waitFor(() => {
      const s = fleet.controller.live.outputs.latestSnapshot('det-on');
      return s && s.meta.boxes > 0 ? s : undefined;
    }, 60_000, 'a snapshot with boxes');
    expect(snap.jpeg.length).toBeLessThanOrEqual(SNAPSHOT_MAX_BYTES);
    const decoded = jpeg.decode(snap.jpeg);
    expect([decoded.width, decoded.height]).toEqual([snap.meta.image.width, snap.meta.image.height]);
    expect(snap.meta.frame).toEqual({ width: 1280, height: 1080 });
    expect(fleet.controller.live.outputs.latestSnapshot('det-off')).toBeUndefined();
    console.log(
      `detections out: ${readLines(file).length} lines; ${inWindow.length} MQTT records in ${((to - from) / 1000).toFixed(1)} s at --publish-detections 2; ` +
        `snapshot ${snap.jpeg.length} bytes, ${snap.meta.image.width}x${snap.meta.image.height} q${snap.meta.image.quality}, ${snap.meta.boxes} boxes`,
    );

    if (haveChromium) {
      const browser = await launchChromium();
      try {
        const page = await browser.newPage({ viewport: { width: 1400, height: 1300 } });
        await page.goto(`${fleet.controller.httpUrl}/#token=${fleet.controller.adminToken}`);
        await page.evaluate(() => (location.hash = '#/device/det-on'));
        const img = page.locator('.snapshot-img');
        await waitFor(async () => (await img.evaluate((el: HTMLImageElement) => (el.complete ? el.naturalWidth : 0))) > 0, 30_000, 'the snapshot in the device view');
        const first = Number(await img.getAttribute('data-seq'));
        // refreshed as new ones come (one a second from this agent; the view asks every 2 s)
        await waitFor(async () => Number(await img.getAttribute('data-seq')) > first, 30_000, 'a newer snapshot in the view');
        expect(await img.evaluate((el: HTMLImageElement) => el.naturalWidth)).toBeGreaterThan(100);
        expect(await page.locator('.snapshot-caption').textContent()).toMatch(/\d+ box(es)? · n640 · frame 1280×1080/);
        await page.screenshot({ path: screenshotPath('device-snapshot'), fullPage: false });
      } finally {
        await browser.close();
      }
    }
    expect(on.child.exitCode).toBeNull();
    expect(off.child.exitCode).toBeNull();
  }, 480_000);
});
