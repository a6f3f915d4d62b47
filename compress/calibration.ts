import { createHash } from 'node:crypto';
import { renderComposition, viewsOf } from './augment.js';
import { loadDataset } from './detect/dataset.js';
import { readImage } from './detect/image.js';
import { Letterboxer } from './detect/letterbox.js';
import type { Model } from './onnx/ir.js';
import { codedError } from '../protocol/errors.js';

/**
 * Calibration images, letterboxed exactly as inference sees them. Every
 * training-free method (quantization ranges, pruning importance and recovery,
 * factorization refits, sensitivity) reads activations from these.
 */
export interface CalibrationSet {
  files: string[];
  /** NCHW float32 [1,3,size,size] tensors: one per file, or several views of each. */
  inputs: Float32Array[];
  size: number;
  /**
   * The file each input comes from (absent: one input per file). Fits use it
   * as their cross-validation fold, so views of one image never sit on both
   * sides of a split.
   */
  sources?: number[];
}

/**
 * A short digest of the inputs themselves (a strided sample of every one):
 * caches keyed by it notice new images, new views or a changed augmentation.
 */
export function calibrationDigest(set: CalibrationSet): string {
  const hash = createHash('sha256').update(`${set.size}:${set.inputs.length}`);
  for (const input of set.inputs) {
    const sample = new Float32Array(Math.ceil(input.length / 997));
    for (let i = 0, k = 0; i < input.length; i += 997, k++) sample[k] = input[i];
    hash.update(new Uint8Array(sample.buffer));
  }
  return hash.digest('hex').slice(0, 16);
}

/** The cross-validation fold of input `i`: its source image. */
export function calibrationFold(set: CalibrationSet, i: number): number {
  return set.sources?.[i] ?? i;
}

/**
 * The calibration set split into two halves by source image (every view of
 * an image stays with it, as in the substitution's cross-validation), or
 * undefined where there is only one source.
 */
export function sourceHalves(calibration: CalibrationSet): [CalibrationSet, CalibrationSet] | undefined {
  const folds = calibration.inputs.map((_, i) => calibrationFold(calibration, i));
  const order = [...new Set(folds)].sort((a, b) => a - b);
  if (order.length < 2) return undefined;
  const half = (parity: number): CalibrationSet => {
    const keep = folds.map((f) => order.indexOf(f) % 2 === parity);
    return {
      files: calibration.files,
      inputs: calibration.inputs.filter((_, i) => keep[i]),
      size: calibration.size,
      sources: folds.filter((_, i) => keep[i]),
    };
  };
  return [half(0), half(1)];
}

/**
 * Fit-on / judge-on pairs that judge a fit on sources it did not see: each
 * half of the sources (sourceHalves) judged by what the other half fitted,
 * both ways; undefined where there is only one source.
 */
export function crossHalves(calibration: CalibrationSet): [CalibrationSet, CalibrationSet][] | undefined {
  const halves = sourceHalves(calibration);
  return halves && [[halves[0], halves[1]], [halves[1], halves[0]]];
}

export interface CalibrationOptions {
  maxImages?: number;
  /**
   * Inputs per image: the image as inference sees it, then random views
   * (compress/augment.ts). Few images give fits too few rows and show too few
   * object sizes; views add both without leaving the training distribution.
   */
  viewsPerImage?: number;
  /** Without viewsPerImage: add views until there are this many inputs (at most MAX_VIEWS per image). */
  minInputs?: number;
  seed?: number;
}

export const MAX_VIEWS = 8;

/** Views per image that bring `images` images to at least `minInputs` inputs. */
export function viewsToFill(images: number, minInputs: number): number {
  return Math.max(1, Math.min(MAX_VIEWS, Math.ceil(minInputs / Math.max(1, images))));
}

export class CalibrationError extends codedError('E_CALIBRATION') {
  override name = 'CalibrationError';
}

/** The square input size of a YOLO model: its `images` input's H (= W). */
export function modelInputSize(model: Model): number {
  const input = model.graph.inputs.find((i) => !model.graph.initializers.has(i.name));
  const dims = input?.shape;
  const h = dims?.[2];
  const w = dims?.[3];
  if (!dims || dims.length !== 4 || typeof h !== 'number' || typeof w !== 'number' || h !== w) {
    throw new CalibrationError(`expected a square [1,3,S,S] image input, got ${input ? `[${(dims ?? []).join(',')}]` : 'none'}`);
  }
  return h;
}

/**
 * Loads up to `maxImages` images from DIR (a folder of images, or a YOLO
 * dataset folder) at the given input size. An empty folder or one with no
 * decodable image is an error naming the folder, never an empty set.
 */
export async function loadCalibration(dir: string, size: number, options: CalibrationOptions = {}): Promise<CalibrationSet> {
  const dataset = await loadDataset(dir).catch((err: Error) => {
    throw new CalibrationError(`calibration folder: ${err.message}`);
  });
  return calibrationFromFiles(dataset.items.map((i) => i.imagePath).slice(0, options.maxImages ?? 32), size, options);
}

/** The calibration inputs of these image files (and their views), in order. */
export async function calibrationFromFiles(files: string[], size: number, options: Omit<CalibrationOptions, 'maxImages'> = {}): Promise<CalibrationSet> {
  const letterboxer = new Letterboxer(size, size);
  const inputs: Float32Array[] = [];
  const sources: number[] = [];
  const views = viewsOf(files.length, options.viewsPerImage ?? viewsToFill(files.length, options.minInputs ?? 1), options.seed ?? 1);
  for (const [f, file] of files.entries()) {
    const image = await readImage(file).catch((err: Error) => {
      throw new CalibrationError(`calibration image ${file}: ${err.message}`);
    });
    // the first view is the exact letterbox inference uses
    views[f].forEach((view, v) => inputs.push(v === 0 ? Float32Array.from(letterboxer.run(image).tensor) : renderComposition(image, size, view)));
    sources.push(...views[f].map(() => f));
  }
  return { files, inputs, size, sources };
}
