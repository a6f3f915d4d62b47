// A larger held-out measure for the fidelity benchmarks. The six held-out
// images carry about 30 baseline boxes, so one box that moves decides a
// cell's third decimal. Seeing each of them through seeded views (the same
// scale, shift, flip, colour and mosaic draws as calibration, with another
// seed) gives 48 inputs and about 260 boxes. They are still never the
// calibration images.
import { renderComposition, viewsOf } from '../compress/augment.js';
import type { Detector } from '../compress/detect/detector.js';
import { fidelityDetections, fidelityReference } from '../compress/detect/evaluate.js';
import type { RgbImage } from '../compress/detect/image.js';
import { readImage } from '../compress/detect/image.js';
import { computeMap, type GroundTruthBox, type ImageEvaluation } from '../compress/detect/map.js';
import { modelDetector } from '../compress/fidelity.js';
import type { Model } from '../compress/onnx/ir.js';

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
