// How far a compressed model's detections drift from its base model's on the
// calibration inputs: the measure sensitivity allocation spends its budget by.
// Fidelity (mAP50-95 against the base model's boxes) is what users read, but
// on a few images it sits at exactly 1.00 for most mild changes, so a plan
// built from many "harmless" steps adds up to a collapse nobody measured.
// The discrepancy of the raw head output (box IoU and class-score change at
// every anchor either model is confident about) keeps moving where fidelity
// is flat, and small drifts add up roughly linearly, as the allocator assumes.
// A model whose output is not a detector's ([1, 4 + nc, anchors]) is judged
// by the relative squared error of its raw output: pruning works on any conv net.
import ort from 'onnxruntime-node';
import type { CalibrationSet } from './calibration.js';
import { FIDELITY_DEFAULTS } from './detect/evaluate.js';
import { letterboxGeometry, type LetterboxTransform } from './detect/letterbox.js';
import { computeMap } from './detect/map.js';
import { iou, outputLayout, postprocess, type Detection } from './detect/postprocess.js';
import type { Model } from './onnx/ir.js';
import { createSession } from './onnx/session.js';

export interface Agreement {
  /** mAP50-95 of the candidate against the base model's detections (1 when the output is not a detector's). */
  fidelity: number;
  /** Confidence-weighted box and score drift of the raw output, 0 when identical. */
  discrepancy: number;
  /** What allocation minimises: (1 − fidelity) + discrepancy. */
  loss: number;
}

/** Anchors below this class score in both models are background and do not count. */
const CONFIDENT = 0.05;

/** The xyxy box of anchor `a` in a raw [4 + nc, n] output (rows cx, cy, w, h). */
function anchorBox(d: Float32Array, a: number, n: number): number[] {
  const cx = d[a], cy = d[n + a], hw = d[2 * n + a] / 2, hh = d[3 * n + a] / 2;
  return [cx - hw, cy - hh, cx + hw, cy + hh];
}

/**
 * Drift of a raw YOLOv8 output ([4 + nc, n]: cx, cy, w, h, class scores)
 * from the base output: Σ over anchors where either model is confident of
 * max(confidence) · ((1 − IoU of the two boxes) + Σ|Δ class score|), and the
 * base model's total confidence it is normalised by.
 */
export function outputDrift(base: Float32Array, candidate: Float32Array, nc: number, n: number): { drift: number; weight: number } {
  let drift = 0, weight = 0;
  for (let a = 0; a < n; a++) {
    let c0 = 0, c1 = 0, scores = 0;
    for (let c = 0; c < nc; c++) {
      const s0 = base[(4 + c) * n + a];
      const s1 = candidate[(4 + c) * n + a];
      if (s0 > c0) c0 = s0;
      if (s1 > c1) c1 = s1;
      scores += Math.abs(s1 - s0);
    }
    const w = Math.max(c0, c1);
    if (w < CONFIDENT) continue;
    if (c0 >= CONFIDENT) weight += c0;
    drift += w * (1 - iou(anchorBox(base, a, n), anchorBox(candidate, a, n)) + scores);
  }
  return { drift, weight };
}

/**
 * Σ(y − y₀)² / Σ(y₀ − ȳ₀)² over every input, ȳ₀ the mean of all base values:
 * 0 when identical, 1 for a constant guess of that mean. A scale-free figure
 * for ranking candidates of one model, not an R² per output position.
 */
export function relativeError(base: readonly Float32Array[], candidate: readonly Float32Array[]): number {
  let sum = 0, count = 0;
  for (const y of base) for (const v of y) (sum += v), count++;
  const mean = count ? sum / count : 0;
  let error = 0, spread = 0;
  base.forEach((y, i) => {
    if (candidate[i]?.length !== y.length) throw new Error(`output ${i} has ${candidate[i]?.length ?? 0} values, the base model's ${y.length}`);
    for (let k = 0; k < y.length; k++) {
      error += (candidate[i][k] - y[k]) ** 2;
      spread += (y[k] - mean) ** 2;
    }
  });
  return spread > 0 ? error / spread : error > 0 ? Infinity : 0;
}

function isDetectorOutput(o: { data: Float32Array; dims: readonly number[] }): boolean {
  return o.dims.length === 3 && o.dims[0] === 1 && o.dims[1] >= 5 && o.data.length === o.dims[1] * o.dims[2];
}

/** The base model's outputs and detections on calibration inputs, to judge candidates against. */
export class AgreementJudge {
  /** Without a single base detection, fidelity has nothing to measure and counts as 1. */
  private readonly hasBoxes: boolean;

  private constructor(
    private readonly inputs: Float32Array[],
    private readonly size: number,
    /** Inputs are already letterboxed: boxes stay in input pixels. */
    private readonly transform: LetterboxTransform,
    private readonly outputs: Float32Array[],
    /** The base detections; undefined when the output is not a detector's. */
    private readonly reference: Detection[][] | undefined,
  ) {
    this.hasBoxes = !!reference?.some((r) => r.length > 0);
  }

  /**
   * At most `maxInputs` of the calibration inputs, spread evenly over them
   * (every inference is paid once per measurement).
   */
  static async create(base: Model, calibration: CalibrationSet, maxInputs = 16): Promise<AgreementJudge> {
    const count = Math.min(maxInputs, calibration.inputs.length);
    const inputs = Array.from({ length: count }, (_, i) => calibration.inputs[Math.floor((i * calibration.inputs.length) / count)]);
    const outputs = await runAll(base, inputs, calibration.size);
    const transform = letterboxGeometry(calibration.size, calibration.size, calibration.size);
    const reference = outputs.every(isDetectorOutput)
      ? outputs.map((o) => postprocess(o, transform, { conf: FIDELITY_DEFAULTS.baselineConf, iou: FIDELITY_DEFAULTS.iou, multiLabel: false }))
      : undefined;
    return new AgreementJudge(inputs, calibration.size, transform, outputs.map((o) => o.data), reference);
  }

  async judge(candidate: Model): Promise<Agreement> {
    const outputs = await runAll(candidate, this.inputs, this.size);
    const reference = this.reference;
    if (!reference) {
      const discrepancy = relativeError(this.outputs, outputs.map((o) => o.data));
      return { fidelity: 1, discrepancy, loss: discrepancy };
    }
    let drift = 0, weight = 0;
    const evaluations = outputs.map((o, i) => {
      const { nc, n } = outputLayout(o.dims, o.data.length);
      const d = outputDrift(this.outputs[i], o.data, nc, n);
      drift += d.drift;
      weight += d.weight;
      return { detections: postprocess(o, this.transform, { conf: FIDELITY_DEFAULTS.candidateConf, iou: FIDELITY_DEFAULTS.iou, multiLabel: false }), groundTruth: reference[i] };
    });
    const fidelity = this.hasBoxes ? computeMap(evaluations).map50_95 : 1;
    const discrepancy = weight > 0 ? drift / weight : 0;
    return { fidelity, discrepancy, loss: Math.max(0, 1 - fidelity) + discrepancy };
  }
}

async function runAll(model: Model, inputs: readonly Float32Array[], size: number): Promise<{ data: Float32Array; dims: readonly number[] }[]> {
  const session = await createSession(model);
  try {
    const out: { data: Float32Array; dims: readonly number[] }[] = [];
    for (const input of inputs) {
      const result = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', input, [1, 3, size, size]) });
      const t = result[session.outputNames[0]];
      if (t.type !== 'float32') throw new Error(`output '${session.outputNames[0]}' is ${t.type}, expected float32`);
      out.push({ data: t.data as Float32Array, dims: t.dims });
    }
    return out;
  } finally {
    await session.release();
  }
}
