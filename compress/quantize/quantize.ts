// Static int8 quantization of a YOLO detector in QDQ form: plan which nodes
// run in integer (plan.ts), calibrate the activations whose range is not fixed
// by their producer's definition on real images, rewrite. A QDQ or
// dynamic-int8 input is dequantized first so ranges come from float values.
import type { CalibrationSet } from '../calibration.js';
import { addLineageStep, sha256Hex } from '../lineage.js';
import { dequantizeModel } from '../onnx/dequantize.js';
import { removeDeadCode, sortGraph } from '../onnx/graph.js';
import { weightFormat, weightFormatLabel } from '../onnx/info.js';
import type { Model } from '../onnx/ir.js';
import { opsetVersion } from '../onnx/shapes.js';
import { hoistPointwiseConvs } from '../onnx/upsample-pointwise.js';
import { writeModel } from '../onnx/write.js';
import { calibrateRanges } from './calibrate.js';
import { upgradeToOpset13 } from './opset.js';
import { isCoded } from '../../protocol/errors.js';
import { integerOpCounts, planQuantization, type IntegerScope, type ReadOutPlan, type StemPlan } from './plan.js';
import { insertQdq, type ActivationType, type QuantizedTensor } from './qdq.js';
import { resolveRanges, type CalibrationMethod } from './ranges.js';
import { codedError } from '../../protocol/errors.js';

/**
 * Percentile by default: on YOLOv8n calibrated on coco8 train it keeps
 * fidelity 0.996 on held-out images, min/max 0.994, entropy 0.82 (entropy
 * clips the long SiLU tails that carry the confident detections).
 */
export const DEFAULT_METHOD: CalibrationMethod = 'percentile';

export class QuantizeError extends codedError('E_QUANTIZE') {
  override name = 'QuantizeError';
}

export interface QuantizeOptions {
  method?: CalibrationMethod;
  /**
   * Weight scales per output channel (needs opset 13; older models are raised
   * to it) or, by default as in onnxruntime's quantize_static, one per tensor.
   */
  perChannel?: boolean;
  activationType?: ActivationType;
  /** Regular expressions on node names of convs to keep float. */
  exclude?: readonly RegExp[];
  /** Which Detect read-out convs run in integer; default 'logits' (plan.ts). */
  readOut?: ReadOutPlan;
  /**
   * 'all' (default): SiLUs, residual Adds, Concats, Splits, max pools and
   * upsamples run in integer too; 'convs': only the convs (the earlier form,
   * 0.74-0.76x fp32 with one thread on yolov8n 640).
   */
  scope?: IntegerScope;
  /**
   * Split each 1x1 conv over a Concat of nearest upsamples so it runs before
   * the upsample (onnx/upsample-pointwise.ts); only with scope 'all' (with
   * 'convs' the Resize and the Add would run float). On by default since the
   * search's latency templates model it (search/shapes.ts): on an Intel Xeon
   * VM with the float stem, yolov8n 640 int8 0.46-0.48 → 0.45-0.46× fp32 (one
   * thread), held-out fidelity 0.993 → 0.995 on the six images and 0.873 →
   * 0.918 on their views. With the integer stem (the earlier default, on an
   * AMD EPYC VM) it had cost zidane.jpg 0.963 → 0.813 (six images 0.994 → 0.960).
   */
  hoistPointwise?: boolean;
  /** The stem conv on the image and its activation: 'float' (default, measured faster) or 'integer' (plan.ts StemPlan). */
  stem?: StemPlan;
  /** sha256 of the file the model was read from, for its lineage; hashed from the model when absent. */
  baseSha256?: string;
}

export interface QuantizeReport {
  method: CalibrationMethod;
  perChannel: boolean;
  activationType: ActivationType;
  inputFormat: string;
  calibrationImages: number;
  scope: IntegerScope;
  readOut: ReadOutPlan;
  stem: StemPlan;
  quantizedConvs: string[];
  floatConvs: { node: string; reason: string }[];
  /** Planned integer nodes per op type (Conv, Sigmoid, Mul, Add, Concat, Split, MaxPool, Resize). */
  integerOps: Record<string, number>;
  /** The 1x1 convs split around an upsample before planning (hoistPointwise). */
  pointwiseBeforeUpsample: string[];
  /** Activations run on the calibration images; the rest follow from their producers. */
  calibratedActivations: number;
  activations: QuantizedTensor[];
  opset: number;
}

export async function quantizeModel(input: Model, calibration: CalibrationSet, options: QuantizeOptions = {}): Promise<{ model: Model; report: QuantizeReport }> {
  const method = options.method ?? DEFAULT_METHOD;
  const perChannel = options.perChannel ?? false;
  const activationType = options.activationType ?? 'uint8';
  const format = weightFormat(input);
  let model: Model;
  if (format === 'qdq-int8' || format === 'dynamic-int8') model = dequantizeModel(input, { baseSha256: options.baseSha256 }).model;
  else if (format === 'fp32') model = structuredClone(input);
  else throw new QuantizeError(`cannot quantize this model (weights: ${weightFormatLabel[format]}); give an fp32, QDQ or dynamic int8 model`);
  if (calibration.inputs.length === 0) throw new QuantizeError('no calibration images');

  const scope = options.scope ?? 'all';
  if (perChannel) upgradeToOpset13(model);
  else if (scope === 'all') {
    // uint8 MaxPool needs opset 12; a model that cannot be raised keeps its max pools float (plan.ts).
    try {
      const raised = structuredClone(model);
      upgradeToOpset13(raised);
      model = raised;
    } catch (err) {
      if (!isCoded(err) || err.code !== 'E_OPSET_UPGRADE') throw err;
    }
  }
  let hoisted: string[] = [];
  if (scope === 'all' && (options.hoistPointwise ?? true)) ({ model, rewritten: hoisted } = hoistPointwiseConvs(model));
  const stem = options.stem ?? 'float';
  const plan = planQuantization(model, { exclude: options.exclude, readOut: options.readOut, scope, stem });
  if (plan.convs.length === 0) throw new QuantizeError('no convolution can be quantized (all are excluded or have non-constant weights)');
  const measured = plan.activations.filter((a) => (plan.sources.get(a)?.kind ?? 'calibrated') === 'calibrated');
  const calibrated = await calibrateRanges(model, measured, calibration, method, activationType);
  const ranges = resolveRanges(plan.activations, plan.sources, calibrated);
  const activations = insertQdq(model.graph, plan.convs, plan.activations, ranges, { perChannel, activationType });
  removeDeadCode(model.graph);
  sortGraph(model.graph);
  // Stale float value_info of now-quantized intermediates would mislead readers; shapes are re-inferred on demand.
  model.graph.valueInfo = [];

  const report: QuantizeReport = {
    method,
    perChannel,
    activationType,
    inputFormat: format,
    calibrationImages: calibration.inputs.length,
    scope,
    readOut: options.readOut ?? 'logits',
    stem,
    quantizedConvs: plan.convs.map((c) => c.name),
    floatConvs: plan.kept,
    integerOps: integerOpCounts(plan),
    pointwiseBeforeUpsample: hoisted,
    calibratedActivations: measured.length,
    activations,
    opset: opsetVersion(model, ''),
  };
  addLineageStep(model, options.baseSha256 ?? sha256Hex(writeModel(input)), 'quantize-int8-qdq', {
    method,
    perChannel,
    activationType,
    scope,
    readOut: options.readOut ?? 'logits',
    stem,
    exclude: (options.exclude ?? []).map((r) => r.source),
    calibrationImages: calibration.files.length,
    quantizedConvs: plan.convs.length,
    pointwiseBeforeUpsample: hoisted,
  });
  return { model, report };
}
