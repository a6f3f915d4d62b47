import { unletterboxBox, type LetterboxTransform } from './letterbox.js';

/** One detected object, box in original-image pixels [x1, y1, x2, y2]. */
export interface Detection {
  box: [number, number, number, number];
  score: number;
  classId: number;
}

export interface PostprocessOptions {
  /** Keep a box when its class score is ≥ conf. */
  conf: number;
  /** NMS: suppress a box whose IoU with a kept box of the same class is > iou. */
  iou: number;
  maxDetections?: number;
  /**
   * One candidate per (box, class) with score ≥ conf instead of only the best
   * class per box. Ultralytics' val does this; predict does not.
   */
  multiLabel?: boolean;
}

/** The raw head output as onnxruntime hands it over: [1, 4 + nc, N], row-major. */
export interface RawOutput {
  data: Float32Array;
  dims: readonly number[];
}

export const DEFAULT_MAX_DETECTIONS = 300;
/** Ultralytics' max_nms: candidates beyond this many (by score) never reach NMS. */
const MAX_NMS_CANDIDATES = 30_000;

export function iou(a: readonly number[], b: readonly number[]): number {
  const iw = Math.min(a[2], b[2]) - Math.max(a[0], b[0]);
  const ih = Math.min(a[3], b[3]) - Math.max(a[1], b[1]);
  if (iw <= 0 || ih <= 0) return 0;
  const inter = iw * ih;
  const union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
  return union > 0 ? inter / union : 0;
}

/** Candidates as parallel typed arrays: anchor index, class, score. */
interface Candidates {
  anchor: Int32Array;
  cls: Int32Array;
  score: Float32Array;
  count: number;
}

/**
 * Flat indices of the scores that pass conf. Postprocess is synchronous, so
 * one scratch buffer, grown to the largest hit count seen, serves every call.
 */
let hits = new Int32Array(0);

/**
 * Finds the scores ≥ conf in one in-order run over the class-major score rows
 * ([nc, N]): a load and a compare per score, bookkeeping only on the rare hit.
 * Capacity is ensured per row, outside the inner loop, where a growth check
 * costs V8 a third of the scan. Leaves the flat indices in `hits`, class-major,
 * and returns how many.
 */
function scanScores(data: Float32Array, first: number, rows: number, n: number, conf: number): number {
  let count = 0;
  for (let row = first, end = first + rows * n; row < end; row += n) {
    if (hits.length - count < n) {
      const grown = new Int32Array(Math.max(2 * hits.length, count + n));
      grown.set(hits.subarray(0, count));
      hits = grown;
    }
    const found = hits;
    const rowEnd = row + n;
    let j = row;
    // Nearly every block of eight holds no hit; one short-circuit test per
    // block runs about twice as fast in V8 as eight trips of a plain loop.
    for (const blocksEnd = row + (n & ~7); j < blocksEnd; j += 8) {
      if (data[j] >= conf || data[j + 1] >= conf || data[j + 2] >= conf || data[j + 3] >= conf || data[j + 4] >= conf || data[j + 5] >= conf || data[j + 6] >= conf || data[j + 7] >= conf) {
        for (let k = j; k < j + 8; k++) if (data[k] >= conf) found[count++] = k;
      }
    }
    for (; j < rowEnd; j++) if (data[j] >= conf) found[count++] = j;
  }
  return count;
}

function collectCandidates(data: Float32Array, nc: number, n: number, conf: number, multiLabel: boolean): Candidates {
  const first = 4 * n;
  const found = scanScores(data, first, nc, n, conf);
  if (multiLabel) {
    const out: Candidates = { anchor: new Int32Array(found), cls: new Int32Array(found), score: new Float32Array(found), count: found };
    for (let k = 0; k < found; k++) {
      const offset = hits[k] - first;
      const c = (offset / n) | 0;
      out.anchor[k] = offset - c * n;
      out.cls[k] = c;
      out.score[k] = data[hits[k]];
    }
    return out;
  }
  // An anchor's best score reaches conf exactly when one of its class scores
  // does, so only anchors with a hit need their best class found.
  const marked = new Uint8Array(n);
  let anchors = 0;
  for (let k = 0; k < found; k++) {
    const i = (hits[k] - first) % n;
    anchors += 1 - marked[i];
    marked[i] = 1;
  }
  const out: Candidates = { anchor: new Int32Array(anchors), cls: new Int32Array(anchors), score: new Float32Array(anchors), count: 0 };
  for (let i = 0; i < n && out.count < anchors; i++) {
    if (marked[i] === 0) continue;
    // First class wins ties, and a NaN first score keeps the anchor out, as in
    // a running `s > best` max seeded with class 0.
    let best = data[first + i];
    let bestCls = 0;
    for (let c = 1, j = first + n + i; c < nc; c++, j += n) {
      if (data[j] > best) {
        best = data[j];
        bestCls = c;
      }
    }
    if (best >= conf) {
      out.anchor[out.count] = i;
      out.cls[out.count] = bestCls;
      out.score[out.count] = best;
      out.count++;
    }
  }
  if (out.count === anchors) return out;
  return { anchor: out.anchor.subarray(0, out.count), cls: out.cls.subarray(0, out.count), score: out.score.subarray(0, out.count), count: out.count };
}

/**
 * Greedy class-aware NMS over boxes in one coordinate space. Checking each
 * candidate against the already-kept boxes of its class is the same greedy
 * rule as torchvision's nms, at O(candidates × kept) cost.
 * Returns indices into the input arrays, best score first.
 */
export function nms(boxes: Float32Array, scores: ArrayLike<number>, classes: ArrayLike<number>, iouThreshold: number, maxDetections = DEFAULT_MAX_DETECTIONS): number[] {
  const count = scores.length;
  const order = Array.from({ length: count }, (_, i) => i).sort((a, b) => scores[b] - scores[a] || a - b);
  if (order.length > MAX_NMS_CANDIDATES) order.length = MAX_NMS_CANDIDATES;
  const keptByClass = new Map<number, number[]>();
  const kept: number[] = [];
  for (const i of order) {
    if (kept.length >= maxDetections) break;
    const x1 = boxes[i * 4], y1 = boxes[i * 4 + 1], x2 = boxes[i * 4 + 2], y2 = boxes[i * 4 + 3];
    const area = (x2 - x1) * (y2 - y1);
    let same = keptByClass.get(classes[i]);
    if (!same) keptByClass.set(classes[i], (same = []));
    let suppressed = false;
    for (const j of same) {
      const iw = Math.min(x2, boxes[j * 4 + 2]) - Math.max(x1, boxes[j * 4]);
      if (iw <= 0) continue;
      const ih = Math.min(y2, boxes[j * 4 + 3]) - Math.max(y1, boxes[j * 4 + 1]);
      if (ih <= 0) continue;
      const inter = iw * ih;
      const union = area + (boxes[j * 4 + 2] - boxes[j * 4]) * (boxes[j * 4 + 3] - boxes[j * 4 + 1]) - inter;
      if (union > 0 && inter / union > iouThreshold) {
        suppressed = true;
        break;
      }
    }
    if (!suppressed) {
      same.push(i);
      kept.push(i);
    }
  }
  return kept;
}

/** Checks the head output's shape and returns (number of classes, number of anchors). */
export function outputLayout(dims: readonly number[], length: number): { nc: number; n: number } {
  if (dims.length !== 3 || dims[0] !== 1 || dims[1] < 5) {
    throw new Error(`detector output must be [1, 4+classes, anchors], got [${dims.join(', ')}]`);
  }
  const nc = dims[1] - 4;
  const n = dims[2];
  if (length !== (4 + nc) * n) throw new Error(`detector output has ${length} values, expected ${(4 + nc) * n} for [${dims.join(', ')}]`);
  return { nc, n };
}

/**
 * Whether no class score carries any signal: all exactly 0 or NaN. A working
 * detector's sigmoid never gives exactly 0 everywhere; a broken export (an
 * int8 graph whose class branch collapsed, a NaN weight) does, and then "no
 * objects" would be a lie.
 */
export function classScoresSilent(output: RawOutput): boolean {
  const { n } = outputLayout(output.dims, output.data.length);
  const data = output.data;
  for (let i = 4 * n; i < data.length; i++) if (data[i] > 0 || data[i] < 0) return false;
  return true;
}

/**
 * Decodes a YOLOv8-style head ([1, 4+nc, N]: cx, cy, w, h in input pixels,
 * then sigmoided class scores, no objectness), thresholds, runs NMS in input
 * space, and maps the kept boxes back to original-image pixels.
 */
export function postprocess(output: RawOutput, transform: LetterboxTransform, options: PostprocessOptions): Detection[] {
  const { nc, n } = outputLayout(output.dims, output.data.length);
  const data = output.data;
  const cand = collectCandidates(data, nc, n, options.conf, options.multiLabel ?? false);
  const boxes = new Float32Array(cand.count * 4);
  for (let k = 0; k < cand.count; k++) {
    const i = cand.anchor[k];
    const cx = data[i], cy = data[n + i], hw = data[2 * n + i] / 2, hh = data[3 * n + i] / 2;
    boxes[k * 4] = cx - hw;
    boxes[k * 4 + 1] = cy - hh;
    boxes[k * 4 + 2] = cx + hw;
    boxes[k * 4 + 3] = cy + hh;
  }
  const kept = nms(boxes, cand.score, cand.cls, options.iou, options.maxDetections ?? DEFAULT_MAX_DETECTIONS);
  return kept.map((k) => ({
    box: unletterboxBox([boxes[k * 4], boxes[k * 4 + 1], boxes[k * 4 + 2], boxes[k * 4 + 3]], transform),
    score: cand.score[k],
    classId: cand.cls[k],
  }));
}
