import { iou } from './postprocess.js';

export type Box = readonly [number, number, number, number];

export interface GroundTruthBox {
  box: Box;
  classId: number;
}

export interface ScoredBox extends GroundTruthBox {
  score: number;
}

/** One image's detections and ground truth, in the same pixel space. */
export interface ImageEvaluation {
  detections: readonly ScoredBox[];
  groundTruth: readonly GroundTruthBox[];
}

export interface ClassAp {
  classId: number;
  groundTruth: number;
  detections: number;
  ap50: number;
  ap75: number;
  /** Mean AP over the IoU thresholds 0.50:0.05:0.95. */
  ap: number;
}

export interface MapResult {
  /** Mean over classes that have ground truth; NaN when no class has any. */
  map50: number;
  map75: number;
  map50_95: number;
  perClass: ClassAp[];
  /** Classes with detections but no ground truth: ignored, as in COCO. */
  ignoredClasses: number[];
  iouThresholds: number[];
}

/** COCO's IoU thresholds, built like np.linspace(0.5, 0.95, 10). */
export const COCO_IOU_THRESHOLDS: readonly number[] = Array.from({ length: 10 }, (_, i) => 0.5 + i * 0.05);
/** COCO's 101 recall points, built like np.linspace(0, 1, 101). */
const RECALL_POINTS: readonly number[] = Array.from({ length: 101 }, (_, i) => i * 0.01);

interface ClassDetection {
  image: number;
  score: number;
  box: Box;
}

/**
 * Greedy COCO matching inside one image: detections in descending score
 * take the unmatched ground truth with the highest IoU ≥ threshold.
 * Returns one true/false per detection, in the given (score-sorted) order.
 */
function matchImage(dets: readonly ClassDetection[], gts: readonly Box[], ious: readonly Float64Array[], threshold: number): boolean[] {
  const taken = new Uint8Array(gts.length);
  return dets.map((_, d) => {
    let best = -1;
    let bestIou = Math.min(threshold, 1 - 1e-10);
    for (let g = 0; g < gts.length; g++) {
      if (taken[g] || ious[d][g] < bestIou) continue;
      bestIou = ious[d][g];
      best = g;
    }
    if (best < 0) return false;
    taken[best] = 1;
    return true;
  });
}

/**
 * 101-point interpolated AP: the precision envelope (max precision at any
 * recall ≥ r) sampled at the first detection reaching each recall point;
 * recall points never reached count as precision 0.
 */
export function interpolatedAp(isTp: readonly boolean[], groundTruth: number): number {
  if (groundTruth === 0) return NaN;
  const n = isTp.length;
  const recall = new Float64Array(n);
  const precision = new Float64Array(n);
  let tp = 0;
  for (let i = 0; i < n; i++) {
    if (isTp[i]) tp++;
    recall[i] = tp / groundTruth;
    precision[i] = tp / (i + 1);
  }
  for (let i = n - 1; i > 0; i--) if (precision[i - 1] < precision[i]) precision[i - 1] = precision[i];
  let sum = 0;
  let idx = 0;
  for (const r of RECALL_POINTS) {
    while (idx < n && recall[idx] < r) idx++;
    if (idx === n) break;
    sum += precision[idx];
  }
  return sum / RECALL_POINTS.length;
}

function classAp(classId: number, images: readonly ImageEvaluation[], thresholds: readonly number[]): ClassAp {
  const perImage: { dets: ClassDetection[]; gts: Box[]; ious: Float64Array[] }[] = [];
  let groundTruth = 0;
  let detections = 0;
  images.forEach((img, image) => {
    const gts = img.groundTruth.filter((g) => g.classId === classId).map((g) => g.box);
    const dets = img.detections
      .filter((d) => d.classId === classId)
      .map((d) => ({ image, score: d.score, box: d.box }))
      .sort((a, b) => b.score - a.score);
    groundTruth += gts.length;
    detections += dets.length;
    perImage.push({ dets, gts, ious: dets.map((d) => Float64Array.from(gts, (g) => iou(d.box, g))) });
  });
  // Across images, detections rank by score; ties keep image order (COCO's stable mergesort).
  const ranked = perImage.flatMap((p, image) => p.dets.map((d, k) => ({ image, k, score: d.score })));
  ranked.sort((a, b) => b.score - a.score || a.image - b.image || a.k - b.k);
  const aps = thresholds.map((t) => {
    const matches = perImage.map((p) => matchImage(p.dets, p.gts, p.ious, t));
    return interpolatedAp(ranked.map((r) => matches[r.image][r.k]), groundTruth);
  });
  const at = (t: number) => aps[thresholds.findIndex((x) => Math.abs(x - t) < 1e-9)] ?? NaN;
  return { classId, groundTruth, detections, ap50: at(0.5), ap75: at(0.75), ap: mean(aps) };
}

function mean(xs: readonly number[]): number {
  return xs.length === 0 ? NaN : xs.reduce((a, b) => a + b, 0) / xs.length;
}

/**
 * COCO-style mAP over a set of images (bbox, all areas, no per-image detection
 * cap beyond what the detector applies). Classes with ground truth count, even
 * with no detections (AP 0); classes with only detections are ignored, as
 * COCO's evaluator does. Pure: boxes must share one pixel space per image.
 */
export function computeMap(images: readonly ImageEvaluation[], iouThresholds: readonly number[] = COCO_IOU_THRESHOLDS): MapResult {
  const gtClasses = new Set<number>();
  const detClasses = new Set<number>();
  for (const img of images) {
    for (const g of img.groundTruth) gtClasses.add(g.classId);
    for (const d of img.detections) detClasses.add(d.classId);
  }
  const perClass = [...gtClasses].sort((a, b) => a - b).map((c) => classAp(c, images, iouThresholds));
  return {
    map50: mean(perClass.map((c) => c.ap50)),
    map75: mean(perClass.map((c) => c.ap75)),
    map50_95: mean(perClass.map((c) => c.ap)),
    perClass,
    ignoredClasses: [...detClasses].filter((c) => !gtClasses.has(c)).sort((a, b) => a - b),
    iouThresholds: [...iouThresholds],
  };
}
