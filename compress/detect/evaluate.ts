import type { DetectResult, Detector } from './detector.js';
import { readImage, type RgbImage } from './image.js';
import { labelsToBoxes, type Dataset } from './dataset.js';
import { computeMap, type ImageEvaluation, type MapResult } from './map.js';
import type { ProgressCallback } from './progress.js';
import { codedError } from '../../protocol/errors.js';

/**
 * Accuracy against labels uses ultralytics val's settings: a low confidence
 * (0.001) so the whole precision–recall curve is ranked, NMS IoU 0.7, and one
 * candidate per (box, class) above conf.
 */
export const MAP_DEFAULTS = { conf: 0.001, iou: 0.7, multiLabel: true } as const;

/**
 * Fidelity: the baseline's predict-style output (conf 0.25, NMS 0.45) is the
 * ground truth. The candidate runs at conf 0.001 with the SAME NMS IoU: with
 * identical NMS the candidate's boxes above 0.25 equal the baseline's when the
 * models are equal, and its extra low-score boxes rank below them, so a model
 * against itself scores exactly 1.0. A different NMS IoU would let duplicates
 * survive and cost precision even for identical models.
 */
export const FIDELITY_DEFAULTS = { baselineConf: 0.25, candidateConf: 0.001, iou: 0.45 } as const;

export interface EvaluationTimings {
  images: number;
  meanPreprocessMs: number;
  meanInferenceMs: number;
  meanPostprocessMs: number;
}

export interface MapEvaluation extends MapResult {
  images: number;
  instances: number;
  timings: EvaluationTimings;
}

export interface FidelityEvaluation extends MapResult {
  /** mAP50-95 of the candidate against the baseline's boxes: 1.0 = same output. */
  fidelity: number;
  images: number;
  baselineBoxes: number;
  timings: EvaluationTimings;
}

export interface MapOptions {
  conf?: number;
  iou?: number;
  multiLabel?: boolean;
  onProgress?: ProgressCallback;
}

export interface FidelityOptions {
  onProgress?: ProgressCallback;
}

export class EvaluationError extends codedError('E_EVALUATION') {
  override name = 'EvaluationError';
}

class TimingSum {
  private n = 0;
  private pre = 0;
  private inf = 0;
  private post = 0;
  add(t: { preprocessMs: number; inferenceMs: number; postprocessMs: number }): void {
    this.n++;
    this.pre += t.preprocessMs;
    this.inf += t.inferenceMs;
    this.post += t.postprocessMs;
  }
  result(): EvaluationTimings {
    const d = Math.max(1, this.n);
    return { images: this.n, meanPreprocessMs: this.pre / d, meanInferenceMs: this.inf / d, meanPostprocessMs: this.post / d };
  }
}

/** mAP of a detector on a labeled YOLO dataset, images decoded one at a time. */
export async function evaluateMap(detector: Detector, dataset: Dataset, options: MapOptions = {}): Promise<MapEvaluation> {
  const unlabeled = dataset.items.filter((it) => it.labels === undefined);
  if (unlabeled.length > 0) {
    throw new EvaluationError(`${dataset.root}: ${unlabeled.length} of ${dataset.items.length} images have no labels folder (e.g. ${unlabeled[0].imagePath}); mAP needs YOLO labels (images/ beside labels/)`);
  }
  const settings = { conf: options.conf ?? MAP_DEFAULTS.conf, iou: options.iou ?? MAP_DEFAULTS.iou, multiLabel: options.multiLabel ?? MAP_DEFAULTS.multiLabel };
  const timing = new TimingSum();
  const evaluations: ImageEvaluation[] = [];
  let instances = 0;
  for (const [i, item] of dataset.items.entries()) {
    const image = await readImage(item.imagePath);
    const { detections, timings } = await detector.detect(image, settings);
    timing.add(timings);
    const groundTruth = labelsToBoxes(item.labels ?? [], image.width, image.height);
    instances += groundTruth.length;
    evaluations.push({ detections, groundTruth });
    options.onProgress?.(i + 1, dataset.items.length);
  }
  return { ...computeMap(evaluations), images: dataset.items.length, instances, timings: timing.result() };
}

/** The baseline's boxes that fidelity takes as ground truth on one image (see FIDELITY_DEFAULTS). */
export async function fidelityReference(baseline: Detector, image: RgbImage): Promise<DetectResult['detections']> {
  return (await baseline.detect(image, { conf: FIDELITY_DEFAULTS.baselineConf, iou: FIDELITY_DEFAULTS.iou, multiLabel: false })).detections;
}

/** A candidate's detections on one image, as fidelity ranks them against the reference. */
export function fidelityDetections(candidate: Detector, image: RgbImage): Promise<DetectResult> {
  return candidate.detect(image, { conf: FIDELITY_DEFAULTS.candidateConf, iou: FIDELITY_DEFAULTS.iou, multiLabel: false });
}

/**
 * How closely a candidate reproduces a baseline model (see FIDELITY_DEFAULTS).
 * Needs no labels, so any folder of representative images will do.
 */
export async function evaluateFidelity(candidate: Detector, baseline: Detector, images: readonly string[], options: FidelityOptions = {}): Promise<FidelityEvaluation> {
  if (images.length === 0) throw new EvaluationError('fidelity needs at least one image');
  const timing = new TimingSum();
  const evaluations: ImageEvaluation[] = [];
  let baselineBoxes = 0;
  for (const [i, file] of images.entries()) {
    const image = await readImage(file);
    const reference = await fidelityReference(baseline, image);
    const { detections, timings } = await fidelityDetections(candidate, image);
    timing.add(timings);
    baselineBoxes += reference.length;
    evaluations.push({ detections, groundTruth: reference });
    options.onProgress?.(i + 1, images.length);
  }
  if (baselineBoxes === 0) {
    throw new EvaluationError(`the baseline found no objects at conf ${FIDELITY_DEFAULTS.baselineConf} in ${images.length} images, so fidelity is undefined; use images with objects (or check the baseline model)`);
  }
  const map = computeMap(evaluations);
  return { ...map, fidelity: map.map50_95, images: images.length, baselineBoxes, timings: timing.result() };
}
