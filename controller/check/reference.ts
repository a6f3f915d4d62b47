// The controller's half of the on-device check: the same candidate, and the
// base model, on onnxruntime's CPU provider, on the same reference frames.
import { Detector } from '../../compress/detect/detector.js';
import { fidelityReference } from '../../compress/detect/evaluate.js';
import { readImage } from '../../compress/detect/image.js';
import type { Detection } from '../../protocol/messages.js';
import type { FrameReference } from './verdict.js';

export interface ReferenceFrame {
  sha256: string;
  path: string;
}

const asTuple = (d: { box: readonly number[]; score: number; classId: number }): Detection => [d.box[0], d.box[1], d.box[2], d.box[3], d.score, d.classId];

async function detectAll(modelFile: string, frames: readonly ReferenceFrame[]): Promise<Detection[][]> {
  const detector = await Detector.create(modelFile, { executionProviders: ['cpu'] });
  try {
    const out: Detection[][] = [];
    for (const f of frames) out.push((await fidelityReference(detector, await readImage(f.path))).map(asTuple));
    return out;
  } finally {
    await detector.release();
  }
}

/**
 * The reference of one candidate: its boxes and the base model's (conf 0.25,
 * NMS 0.45: what fidelity takes as ground truth). The base model's boxes
 * depend only on the base and the frame, so they are kept in `baseCache`
 * (by base and frame sha256) and computed once per rollout, not per profile.
 */
export async function computeReference(candidateFile: string, base: { sha256: string; file: string }, frames: readonly ReferenceFrame[], baseCache: Map<string, Detection[]>): Promise<FrameReference[]> {
  const candidate = await detectAll(candidateFile, frames);
  const key = (f: ReferenceFrame) => `${base.sha256}:${f.sha256}`;
  const missing = frames.filter((f) => !baseCache.has(key(f)));
  if (missing.length > 0) {
    const found = await detectAll(base.file, missing);
    missing.forEach((f, i) => baseCache.set(key(f), found[i]));
  }
  return frames.map((f, i) => ({ sha256: f.sha256, candidate: candidate[i], base: baseCache.get(key(f))! }));
}
