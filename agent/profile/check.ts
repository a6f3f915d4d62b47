// The device's half of the on-device check: the candidate's detections on the
// controller's reference frames, from the very session (and so the execution
// provider) that was just profiled. An accelerator's int8 or fp16 path can
// break a model that is fine on the controller's CPU; only detections computed
// here show it. The controller compares them (controller/check/).
import type { Detector } from '../../compress/detect/detector.js';
import { fidelityDetections } from '../../compress/detect/evaluate.js';
import { readImage } from '../../compress/detect/image.js';
import type { CheckReport, Detection } from '../../protocol/messages.js';

/** A verified reference frame in the agent's artifact cache. */
export interface CheckFrame {
  sha256: string;
  path: string;
}

/** The protocol's cap on detections per frame; the candidate's own cap (300) is below it. */
const MAX_DETECTIONS = 1000;
const round = (x: number, places: number) => Math.round(x * 10 ** places) / 10 ** places;

/**
 * Detections on each frame, in the frame's own pixels, ranked as fidelity
 * ranks a candidate (conf 0.001, NMS 0.45: FIDELITY_DEFAULTS), so that the
 * controller can score them with the same mAP50-95 as a fidelity measurement.
 * `ms` is the wall time of the whole check: decode, letterbox, run, NMS.
 */
export async function runCheck(detector: Detector, frames: readonly CheckFrame[]): Promise<CheckReport> {
  const t0 = performance.now();
  const out: CheckReport['frames'] = [];
  for (const frame of frames) {
    const image = await readImage(frame.path);
    const { detections } = await fidelityDetections(detector, image);
    out.push({
      sha256: frame.sha256,
      // boxes to 0.01 px and scores to 1e-6: well below what moves an IoU or a rank, and half the bytes
      detections: detections.slice(0, MAX_DETECTIONS).map((d): Detection => [round(d.box[0], 2), round(d.box[1], 2), round(d.box[2], 2), round(d.box[3], 2), Math.min(1, Math.max(0, round(d.score, 6))), d.classId]),
    });
  }
  return { frames: out, ms: round(performance.now() - t0, 2) };
}
