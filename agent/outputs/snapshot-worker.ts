// Draws and encodes snapshots off the main thread: onnxruntime-node runs each
// inference on the main thread, and a 640×540 snapshot took 35 ms there on a
// quiet x86 core and up to 270 ms on a loaded one (more on a Pi), time the
// serving loop would have lost every few seconds.
import { parentPort } from 'node:worker_threads';
import { drawDetections, encodeJpegCapped, type AnnotatedBox } from '../../compress/detect/annotate.js';
import type { RgbImage } from '../../compress/detect/image.js';

export interface SnapshotJob {
  id: number;
  scene: RgbImage;
  boxes: AnnotatedBox[];
  maxBytes: number;
}

export type SnapshotDone = { id: number; ok: true; jpeg: Uint8Array; width: number; height: number; quality: number } | { id: number; ok: false; message: string };

const port = parentPort!;
port.on('message', (job: SnapshotJob) => {
  let done: SnapshotDone;
  try {
    const { jpeg, width, height, quality } = encodeJpegCapped(drawDetections(job.scene, job.boxes), job.maxBytes);
    done = { id: job.id, ok: true, jpeg: new Uint8Array(jpeg.buffer, jpeg.byteOffset, jpeg.byteLength), width, height, quality };
  } catch (err) {
    done = { id: job.id, ok: false, message: (err as Error).message };
  }
  port.postMessage(done);
});
