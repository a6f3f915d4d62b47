// A larger held-out measure for the fidelity benchmarks. The six held-out
// images carry about 30 baseline boxes, so one box that moves decides a
// cell's third decimal. Seeing each of them through seeded views (the same
// scale, shift, flip, colour and mosaic draws as calibration, with another
// seed) gives 48 inputs and about 260 boxes. They are still never the
// calibration images. heldOutProtocol sets up both measures for a benchmark.
import { readFileSync } from 'node:fs';
import { renderComposition, viewsOf } from '../compress/augment.js';
import { loadCalibration } from '../compress/calibration.js';
import { Detector } from '../compress/detect/detector.js';
import { fidelityDetections, fidelityReference } from '../compress/detect/evaluate.js';
import type { RgbImage } from '../compress/detect/image.js';
import { readImage } from '../compress/detect/image.js';
import { computeMap, type GroundTruthBox, type ImageEvaluation } from '../compress/detect/map.js';
import { measureFidelity, modelDetector } from '../compress/fidelity.js';
import { dequantizeModel } from '../compress/onnx/dequantize.js';
import type { Model } from '../compress/onnx/ir.js';
import { readModel } from '../compress/onnx/read.js';
import { writeModel } from '../compress/onnx/write.js';
import { calibrationDir, heldOutImages } from './common.js';

const VIEW_SEED = 99;

/** Every file seen through `perImage` views (the first is the image as inference sees it), as size×size images. */
export async function viewsOfFiles(files: readonly string[], size: number, perImage: number): Promise<RgbImage[]> {
  const recipes = viewsOf(files.length, perImage, VIEW_SEED);
  const out: RgbImage[] = [];
  for (const [i, file] of files.entries()) {
    const image = await readImage(file);
    for (const c of recipes[i]) out.push(toRgb(renderComposition(image, size, c), size));
  }
  return out;
}

function toRgb(planes: Float32Array, size: number): RgbImage {
  const hw = size * size;
  const rgb = new Uint8Array(3 * hw);
  for (let p = 0; p < hw; p++) for (let ch = 0; ch < 3; ch++) rgb[3 * p + ch] = Math.round(Math.min(1, Math.max(0, planes[ch * hw + p])) * 255);
  return { width: size, height: size, rgb };
}

/**
 * Fidelity (evaluateFidelity's, image by image the same) on in-memory images,
 * with the baseline's detections computed once for every candidate judged.
 */
export async function viewFidelity(baseline: Detector, images: readonly RgbImage[]): Promise<{ boxes: number; measure: (candidate: Model) => Promise<number> }> {
  const references: GroundTruthBox[][] = [];
  for (const image of images) references.push(await fidelityReference(baseline, image));
  const measure = async (candidate: Model): Promise<number> => {
    const detector = await modelDetector(candidate);
    try {
      const evaluations: ImageEvaluation[] = [];
      for (const [i, image] of images.entries()) {
        const { detections } = await fidelityDetections(detector, image);
        evaluations.push({ detections, groundTruth: references[i] });
      }
      return computeMap(evaluations).map50_95;
    } finally {
      await detector.session.release();
    }
  };
  return { boxes: references.reduce((n, r) => n + r.length, 0), measure };
}

/**
 * The pruning benchmarks' protocol on the fixture `file`: its float graph,
 * the calibration set `--calib` would build from coco8 train, the held-out
 * images, and a judge of a candidate on both held-out measures.
 */
export async function heldOutProtocol(file: string, viewsPerImage: number) {
  const bytes = readFileSync(file);
  const model = dequantizeModel(readModel(bytes)).model;
  const calibration = await loadCalibration(calibrationDir, 640, { minInputs: 16 });
  const heldOut = heldOutImages();
  const baseline = await Detector.create(writeModel(model));
  const views = await viewFidelity(baseline, await viewsOfFiles(heldOut, calibration.size, viewsPerImage));
  const judge = async (m: Model) => ({ images: (await measureFidelity(m, baseline, heldOut)).fidelity, views: await views.measure(m) });
  return { bytes, model, calibration, heldOut, baseline, views, judge };
}
