// The agent's detections outputs apart from an agent: the bus, the rate
// limit, the JSON lines file with its bounded queue, and the SSE handler on a
// real node:http server read by a real client.
import { mkdtempSync, readFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DetectionsBus, type ServedFrame } from '../../../agent/outputs/bus.js';
import { checkDetectionsPath, JsonLinesSink } from '../../../agent/outputs/json-lines.js';
import { LatestWins } from '../../../agent/outputs/latest-wins.js';
import { detectionsRecord } from '../../../agent/outputs/record.js';
import { SnapshotTaker } from '../../../agent/outputs/snapshot.js';
import { detectionsSse } from '../../../agent/outputs/sse.js';
import jpeg from 'jpeg-js';
import { letterboxGeometry } from '../../../compress/detect/letterbox.js';
import { DetectionsMessage, SnapshotMessage } from '../../../protocol/messages.js';
import { PROTOCOL_VERSION } from '../../../protocol/topics.js';
import { captureLogger } from '../../helpers/log.js';
import { waitFor } from '../../helpers/wait.js';

const SHA = 'a'.repeat(64);

function served(seq: number, boxes = 1): ServedFrame {
  const frame = { width: 64, height: 64, rgb: new Uint8Array(64 * 64 * 3), letterbox: letterboxGeometry(1280, 1080, 64, 64) };
  const dets = Array.from({ length: boxes }, (_, i) => ({ box: [10 + i, 20, 300.04, 400.06] as [number, number, number, number], score: 0.87654, classId: i % 2 === 0 ? 5 : 0 }));
  return { frame, record: detectionsRecord({ v: PROTOCOL_VERSION, ts: 1_700_000_000_000 + seq, candidateId: 'n640', sha256: SHA, seq }, frame, dets, (id) => ['person', '', '', '', '', 'bus'][id]) };
}

describe('detections record', () => {
  it('names the source frame (not the letterboxed input) and rounds boxes to a tenth of a pixel; the schema accepts it', () => {
    const r = served(7).record;
    expect(r.frame).toEqual({ width: 1280, height: 1080 });
    expect(r.boxes).toEqual([{ box: [10, 20, 300, 400.1], classId: 5, className: 'bus', score: 0.877 }]);
    expect(DetectionsMessage.safeParse(r).success).toBe(true);
    expect(DetectionsMessage.safeParse({ ...r, boxes: [{ ...r.boxes[0], score: 1.5 }] }).success).toBe(false);
  });
});

describe('DetectionsBus', () => {
  it('builds no record while nobody listens, counts every frame, and drops a listener that throws', () => {
    const bus = new DetectionsBus();
    let built = 0;
    const build = (seq: number) => (built++, served(seq));
    bus.served(build);
    expect(built).toBe(0);
    const seen: number[] = [];
    bus.listen(() => {
      throw new Error('bad listener');
    });
    const off = bus.listen((s) => seen.push(s.record.seq));
    bus.served(build);
    bus.served(build);
    expect(built).toBe(2);
    // the seq counts the frame served while nobody listened
    expect(seen).toEqual([2, 3]);
    off();
    expect(bus.listening).toBe(false);
  });
});

describe('LatestWins', () => {
  it('sends at most HZ a second however fast records come, and the latest one', async () => {
    const sent: number[] = [];
    const times: number[] = [];
    const limiter = new LatestWins<number>(2, (v) => (sent.push(v), times.push(Date.now())));
    let i = 0;
    const producer = setInterval(() => limiter.offer(++i), 5);
    const started = Date.now();
    await new Promise((r) => setTimeout(r, 3000));
    clearInterval(producer);
    const elapsedS = (Date.now() - started) / 1000;
    limiter.close();
    expect(sent.length).toBeGreaterThanOrEqual(1);
    expect(sent.length).toBeLessThanOrEqual(Math.floor(2 * elapsedS) + 1);
    // no two sends closer than a period (timers fire late, never early, give or take a millisecond)
    for (let k = 1; k < times.length; k++) expect(times[k] - times[k - 1]).toBeGreaterThanOrEqual(499);
    // each send is the newest record at that moment: strictly increasing, skipping those in between
    for (let k = 1; k < sent.length; k++) expect(sent[k]).toBeGreaterThan(sent[k - 1]);
    expect(() => new LatestWins(0, () => undefined)).toThrow(RangeError);
    expect(() => new LatestWins(11, () => undefined)).toThrow(RangeError);
  });
});

describe('SnapshotTaker', () => {
  it('draws the next served frame in its worker thread every S seconds, on the scene without letterbox padding, under the cap', async () => {
    const sent: SnapshotMessage[] = [];
    const capture = captureLogger();
    const taker = new SnapshotTaker(1, (s) => sent.push(s), capture.log);
    try {
      const first = served(1);
      first.frame.rgb.fill(200);
      taker.offer(first);
      taker.offer(served(2)); // not due yet: skipped
      const snap = await waitFor(() => sent[0], 20_000, 'the first snapshot');
      expect(SnapshotMessage.safeParse(snap).success).toBe(true);
      // 1280×1080 letterboxed into 64×64 is 64×54 of scene: the snapshot is that, at the first quality
      expect(snap).toMatchObject({ seq: 1, boxes: 1, frame: { width: 1280, height: 1080 }, image: { width: 64, height: 54, quality: 80 } });
      const img = jpeg.decode(Buffer.from(snap.jpeg, 'base64'));
      expect([img.width, img.height]).toEqual([64, 54]);
      // the bus box [10, 20, 300, 400.1] in source pixels is [0.5, 1, 15, 20] here: its left edge column 0 is the bus colour
      // (48F90A), JPEG-blurred; the scene's grey 200 well inside the box is not
      const at = (x: number, y: number) => Array.from(img.data.subarray((y * 64 + x) * 4, (y * 64 + x) * 4 + 3));
      const edge = at(0, 12);
      expect(edge[1]).toBeGreaterThan(edge[0] + 60);
      expect(edge[1]).toBeGreaterThan(edge[2] + 60);
      const inside = at(40, 40);
      for (const c of inside) expect(Math.abs(c - 200)).toBeLessThan(20);
      expect(sent).toHaveLength(1);
      await new Promise((r) => setTimeout(r, 1100));
      taker.offer(served(3));
      await waitFor(() => sent[1], 20_000, 'the second snapshot, a second later');
      expect(sent[1].seq).toBe(3);
    } finally {
      await taker.close();
    }
  });
});

describe('JsonLinesSink', () => {
  it('writes one parseable line per record, and drops (counted, logged) what a file that cannot keep up would queue', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'edgefit-jsonl-'));
    const file = path.join(dir, 'det.jsonl');
    const capture = captureLogger();
    const sink = JsonLinesSink.open(file, capture.log);
    for (let seq = 1; seq <= 3; seq++) {
      sink.write(served(seq).record);
      await new Promise((r) => setTimeout(r, 20));
    }
    await sink.close();
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    expect(lines.map((l) => DetectionsMessage.parse(JSON.parse(l)).seq)).toEqual([1, 2, 3]);

    // A queue bound of 1 byte: while the first write is with the disk, every further record in the same turn is dropped.
    const slow = JsonLinesSink.open(path.join(dir, 'slow.jsonl'), capture.log, 1);
    for (let seq = 1; seq <= 50; seq++) slow.write(served(seq).record);
    expect(slow.written).toBe(1);
    expect(slow.dropped).toBe(49);
    await slow.close();
    const warn = capture.lines().filter((l) => l.msg === 'detections lines dropped: the file cannot keep up');
    // once in a while, not per record: the first drop, then the rest at close
    expect(warn.map((l) => l.dropped)).toEqual([1, 48]);
    expect(warn.at(-1)!.droppedTotal).toBe(49);
  });

  it('says in one line why a path cannot be written', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'edgefit-jsonl-'));
    expect(() => checkDetectionsPath(dir)).toThrow(`${dir} is a folder`);
    expect(() => checkDetectionsPath(path.join(dir, 'missing', 'x.jsonl'))).toThrow(/is in a folder that does not exist$/);
    expect(() => checkDetectionsPath('-')).not.toThrow();
  });
});

describe('detectionsSse on a real http server', () => {
  async function serve(handler: http.RequestListener): Promise<{ server: http.Server; url: string }> {
    const server = http.createServer(handler);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return { server, url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/v1/detections` };
  }

  it('streams each record as an event to a reader, listens to the bus only while someone reads, and ends on agent stop', async () => {
    const bus = new DetectionsBus();
    const sse = detectionsSse(bus);
    const { server, url } = await serve(sse);
    try {
      const res = await fetch(url);
      expect(res.headers.get('content-type')).toBe('text/event-stream');
      await waitFor(() => sse.readers === 1, 5000, 'the reader registered');
      expect(bus.listening).toBe(true);
      for (let seq = 1; seq <= 3; seq++) bus.served((s) => served(s));
      bus.close(); // what Agent.stop does
      const text = await res.text(); // resolves only once the stream ended
      const events = [...text.matchAll(/event: detections\ndata: (.*)\n\n/g)].map((m) => DetectionsMessage.parse(JSON.parse(m[1])));
      expect(events.map((e) => e.seq)).toEqual([1, 2, 3]);
      expect(events[0].boxes[0].className).toBe('bus');
      expect(sse.readers).toBe(0);
      expect((await fetch(url)).status).toBe(503);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });

  it('drops a reader that does not read instead of buffering for it, and keeps serving the others', async () => {
    const bus = new DetectionsBus();
    const sse = detectionsSse(bus, { maxQueuedBytes: 64 * 1024 });
    const { server, url } = await serve(sse);
    const { port } = new URL(url);
    try {
      // a client that sends its request and never reads a byte of the answer
      const stuck = net.connect(Number(port), '127.0.0.1');
      stuck.on('error', () => undefined);
      stuck.write(`GET /v1/detections HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
      stuck.pause();
      await waitFor(() => sse.readers === 1, 5000, 'the stuck reader registered');
      let seq = 0;
      // 300 boxes a record, ~25 KB: the kernel's socket buffers fill, then the handler's bound
      while (sse.dropped === 0 && seq < 20_000) {
        bus.served((s) => served(s, 300));
        seq++;
        if (seq % 20 === 0) await new Promise((r) => setImmediate(r));
      }
      expect(sse.dropped).toBe(1);
      expect(sse.readers).toBe(0);
      expect(bus.listening).toBe(false);
      stuck.destroy();
      // a new reader still gets records
      const res = await fetch(url);
      await waitFor(() => sse.readers === 1, 5000, 'the new reader registered');
      bus.served((s) => served(s));
      sse.close();
      expect(await res.text()).toContain(`"seq":${seq + 1}`);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});
