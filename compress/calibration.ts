import { loadDataset } from './detect/dataset.js';
import { readImage } from './detect/image.js';
import { Letterboxer } from './detect/letterbox.js';
import type { Model } from './onnx/ir.js';

/**
 * Calibration images, letterboxed exactly as inference sees them. Every
 * training-free method (quantization ranges, pruning importance and recovery,
 * factorization refits, sensitivity) reads activations from these.
 */
export interface CalibrationSet {
  files: string[];
  /** One NCHW float32 [1,3,size,size] tensor per file. */
  inputs: Float32Array[];
  size: number;
}

export class CalibrationError extends Error {
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
export async function loadCalibration(dir: string, size: number, maxImages = 32): Promise<CalibrationSet> {
  const dataset = await loadDataset(dir).catch((err: Error) => {
    throw new CalibrationError(`calibration folder: ${err.message}`);
  });
  const files = dataset.items.map((i) => i.imagePath).slice(0, maxImages);
  const letterboxer = new Letterboxer(size, size);
  const inputs: Float32Array[] = [];
  for (const file of files) {
    const image = await readImage(file).catch((err: Error) => {
      throw new CalibrationError(`calibration image ${file}: ${err.message}`);
    });
    inputs.push(Float32Array.from(letterboxer.run(image).tensor));
  }
  return { files, inputs, size };
}
