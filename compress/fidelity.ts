import { Detector, type DetectorOptions } from './detect/detector.js';
import { evaluateFidelity, type FidelityEvaluation } from './detect/evaluate.js';
import type { Model } from './onnx/ir.js';
import { writeModel } from './onnx/write.js';

/** A Detector on an in-memory model, for measuring candidates before they are written anywhere. */
export function modelDetector(model: Model, options: DetectorOptions = {}): Promise<Detector> {
  return Detector.create(writeModel(model), options);
}

/**
 * Held-out fidelity of a candidate: mAP50-95 of its detections against the
 * baseline model's own detections on `images`, which must not be the images
 * the candidate was calibrated on (a fit always looks good on those).
 */
export async function measureFidelity(candidate: Model, baseline: Detector, images: readonly string[]): Promise<FidelityEvaluation> {
  const detector = await modelDetector(candidate);
  try {
    return await evaluateFidelity(detector, baseline, images);
  } finally {
    await detector.session.release();
  }
}
