import type { Logger } from 'pino';
import { drawDetections, encodeJpegCapped, sceneOf } from '../../compress/detect/annotate.js';
import { SNAPSHOT_MAX_BYTES, type SnapshotMessage } from '../../protocol/messages.js';
import type { ServedFrame } from './bus.js';

/**
 * `--snapshot-every S`: every S seconds the next served frame is drawn on
 * (boxes, class names and scores) and sent as a JPEG under 64 KiB. The frame
 * is copied on the spot (a source may reuse its buffer); drawing and encoding
 * run on a later turn of the event loop, one snapshot at a time, so the
 * serving loop only pays for the copy.
 */
export class SnapshotTaker {
  taken = 0;
  private due = true;
  private busy = false;
  private timer?: NodeJS.Timeout;
  private closed = false;

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
    const { record } = served;
    const { image, scale } = sceneOf(served.frame);
    const scene = image === served.frame ? { ...image, rgb: Uint8Array.from(image.rgb) } : image;
    this.timer = setTimeout(() => (this.due = true), this.everyS * 1000);
    setImmediate(() => {
      try {
        const boxes = record.boxes.map((b) => ({
          box: [b.box[0] * scale, b.box[1] * scale, b.box[2] * scale, b.box[3] * scale] as const,
          classId: b.classId,
          label: `${b.className} ${b.score.toFixed(2)}`,
        }));
        const { jpeg, width, height, quality } = encodeJpegCapped(drawDetections(scene, boxes), this.maxBytes);
        if (this.closed) return;
        this.taken++;
        this.send({
          v: record.v,
          ts: record.ts,
          candidateId: record.candidateId,
          sha256: record.sha256,
          seq: record.seq,
          frame: record.frame,
          image: { width, height, quality },
          boxes: record.boxes.length,
          jpeg: jpeg.toString('base64'),
        });
      } catch (err) {
        this.log.warn({ err: (err as Error).message }, 'snapshot failed');
      } finally {
        this.busy = false;
      }
    });
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
  }
}
