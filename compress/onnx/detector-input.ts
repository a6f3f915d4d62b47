// Which model inputs a detector can feed: one float image tensor [1,3,H,W]
// of a fixed, sane size. One rule for every place that asks (the Detector on
// onnxruntime's metadata; `model info` on the file's own graph), so `model
// info` says "not runnable" for exactly the models `detect`, `profile` and an
// agent refuse. Pure.
import type { Dim, Model } from './ir.js';
import { dataTypeName } from './tensor.js';

/**
 * The largest input side: the letterbox keeps one float32 frame of 3·H·W
 * (192 MiB at 4096×4096, twice that with its fp16 copy), more than an edge
 * device gives a model it serves. A first probe's file with a side of 10^12
 * made the letterbox ask for a 1.9·10^15-element array ('Invalid typed array
 * length'); a batch of 2^31 got to onnxruntime, whose three-line error ended
 * up in `profile --json`.
 */
export const MAX_INPUT_SIDE = 4096;

export interface InputSummary {
  name: string;
  /** onnxruntime's type name: 'float32', 'float16', 'int64'... */
  type: string;
  /** Fixed sizes as numbers, named (symbolic) ones as strings; null: unknown. */
  shape: readonly Dim[] | null;
}

const shown = (shape: readonly Dim[]) => `[${shape.map((d) => (d === null ? '?' : String(d))).join(', ')}]`;

/** Why a model with these inputs (initializers excluded) cannot serve as a detector, or undefined when it can. One line. */
export function detectorInputIssue(inputs: readonly InputSummary[]): string | undefined {
  if (inputs.length !== 1) return `a detector takes one image tensor input; this model has inputs [${inputs.map((i) => i.name).join(', ')}]`;
  const [input] = inputs;
  const shape = input.shape ?? [];
  const fixed = (d: Dim | undefined): d is number => typeof d === 'number';
  const wrong = `input '${input.name}' must be a fixed-size [1,3,H,W] image, got ${input.shape ? shown(shape) : 'no shape'}`;
  if (shape.length !== 4) return wrong;
  const [batch, channels, h, w] = shape;
  if (fixed(channels) && channels !== 3) return wrong;
  if (!fixed(h) || !fixed(w) || h <= 0 || w <= 0) return wrong;
  // a named batch is fed 1; a fixed one must be 1: the detector feeds one frame at a time
  if (fixed(batch) && batch !== 1) return `${wrong}: the batch must be 1`;
  if (!Number.isInteger(h) || !Number.isInteger(w) || h > MAX_INPUT_SIDE || w > MAX_INPUT_SIDE) return `${wrong}: H and W must be 1-${MAX_INPUT_SIDE}`;
  if (input.type !== 'float32' && input.type !== 'float16') return `input '${input.name}' must be float32 or float16, got ${input.type}`;
  return undefined;
}

/** The same question of a model file's own graph (initializers listed among old exporters' inputs are not inputs). */
export function modelInputIssue(model: Model): string | undefined {
  const initializers = model.graph.initializers;
  return detectorInputIssue(model.graph.inputs.filter((v) => !initializers.has(v.name)).map((v) => ({ name: v.name, type: dataTypeName(v.elemType), shape: v.shape })));
}
