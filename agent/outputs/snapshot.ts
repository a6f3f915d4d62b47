import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import { sceneOf } from '../../compress/detect/annotate.js';
import { SNAPSHOT_MAX_BYTES, type SnapshotMessage } from '../../protocol/messages.js';
import type { ServedFrame } from './bus.js';
import type { SnapshotDone, SnapshotJob } from './snapshot-worker.js';

// Beside this file when built; from the sources (tests), the built copy (npm test builds first).
const BESIDE = fileURLToPath(new URL('./snapshot-worker.js', import.meta.url));
const WORKER = existsSync(BESIDE) ? BESIDE : fileURLToPath(new URL('../../dist/agent/outputs/snapshot-worker.js', import.meta.url));

/**
 * `--snapshot-every S`: every S seconds the next served frame is drawn on
 * (boxes, class names and scores) and sent as a JPEG under 64 KiB. The serving
 * loop pays only for copying the scene out of the frame (a source may reuse
 * its buffer); drawing and encoding run in a worker thread, started with the
 * first snapshot, one snapshot at a time.
 */
export class SnapshotTaker {
  taken = 0;
  private due = true;
  private busy = false;
  private timer?: NodeJS.Timeout;
  private closed = false;
  private worker: Worker | null = null;
  private nextId = 0;
  private waiting: { id: number; meta: Omit<SnapshotMessage, 'jpeg' | 'image'> } | null = null;

  constructor(
    private readonly everyS: number,
    private readonly send: (snapshot: SnapshotMessage) => void,
    private readonly log: Logger,
    private readonly maxBytes = SNAPSHOT_MAX_BYTES,
  ) {}

  offer(served: ServedFrame): void {
    if (!this.due || this.busy || this.closed) return;
    this.due = false;
    this.busy = true;
    this.timer = setTimeout(() => (this.due = true), this.everyS * 1000);
    const { record } = served;
    const { image, scale } = sceneOf(served.frame);
    // sceneOf copies a letterboxed frame's scene; a plain frame is copied here: its buffer goes to the worker
    const scene = image === served.frame ? { width: image.width, height: image.height, rgb: Uint8Array.from(image.rgb) } : image;
    const job: SnapshotJob = {
      id: ++this.nextId,
      scene,
      boxes: record.boxes.map((b) => ({ box: [b.box[0] * scale, b.box[1] * scale, b.box[2] * scale, b.box[3] * scale] as const, classId: b.classId, label: `${b.className} ${b.score.toFixed(2)}` })),
      maxBytes: this.maxBytes,
    };
    this.waiting = { id: job.id, meta: { v: record.v, ts: record.ts, candidateId: record.candidateId, sha256: record.sha256, seq: record.seq, frame: record.frame, boxes: record.boxes.length } };
    this.thread().postMessage(job, [scene.rgb.buffer as ArrayBuffer]);
  }

  private thread(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(WORKER);
    worker.unref();
    worker.on('message', (done: SnapshotDone) => this.done(done));
    worker.on('error', (err) => {
      this.log.warn({ err: err.message }, 'snapshot thread failed; the next snapshot starts a new one');
      this.worker = null;
      this.busy = false;
    });
    this.worker = worker;
    return worker;
  }

  private done(done: SnapshotDone): void {
    const waiting = this.waiting;
    this.busy = false;
    if (!waiting || waiting.id !== done.id || this.closed) return;
    this.waiting = null;
    if (!done.ok) return this.log.warn({ err: done.message }, 'snapshot failed');
    this.taken++;
    this.send({ ...waiting.meta, image: { width: done.width, height: done.height, quality: done.quality }, jpeg: Buffer.from(done.jpeg.buffer, done.jpeg.byteOffset, done.jpeg.byteLength).toString('base64') });
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    await this.worker?.terminate();
    this.worker = null;
  }
}
