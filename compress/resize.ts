// The same detector at another square input size. The convolutions do not
// care, but an export bakes the old size into the Detect head: the anchor
// points of dist2bbox ([1,2,N], ultralytics make_anchors: grid cell centres,
// +0.5, level by level), the per-anchor strides ([1,N]) and the Reshape shapes
// that spell N out. Those are found by shape and value, checked against
// make_anchors at the old size, and regenerated for the new one.
import { modelInputSize } from './calibration.js';
import { addLineageStep, sha256Hex } from './lineage.js';
import { constValue, consumers, producers } from './onnx/graph.js';
import { DataType, type Model, type Tensor } from './onnx/ir.js';
import { inferShapes } from './onnx/shapes.js';
import { toFloat32, toNumbers } from './onnx/tensor.js';
import { writeModel } from './onnx/write.js';
import { anchorGrid } from './yolo/detect-head.js';
import { codedError, EdgefitError } from '../protocol/errors.js';

export class ResizeError extends codedError('E_RESIZE') {
  override name = 'ResizeError';
}

export interface ResizeReport {
  from: number;
  to: number;
  strides: number[];
  anchorsBefore: number;
  anchorsAfter: number;
  /** Names of the rewritten constants: anchor points, strides, Reshape shapes, Resize sizes. */
  rewritten: string[];
}

interface DetectConstants {
  anchors: Tensor[];
  strides: Tensor;
  levels: number[];
}

/** Splits a per-anchor stride row into its levels, in order. */
function strideLevels(values: Float32Array): { stride: number; count: number }[] {
  const levels: { stride: number; count: number }[] = [];
  for (const v of values) {
    const last = levels[levels.length - 1];
    if (last && last.stride === v) last.count++;
    else levels.push({ stride: v, count: 1 });
  }
  return levels;
}

function allConstants(model: Model): Tensor[] {
  const g = model.graph;
  const prod = producers(g);
  const out = [...g.initializers.values()].filter((t) => !g.inputs.some((i) => i.name === t.name));
  for (const n of g.nodes) {
    if (n.opType !== 'Constant') continue;
    const t = constValue(g, n.outputs[0], prod);
    if (t) out.push(t);
  }
  return out;
}

/** The Detect head's anchor and stride constants, validated against make_anchors at `size`. */
function findDetectConstants(model: Model, size: number): DetectConstants {
  const consts = allConstants(model).filter((t) => t.dataType === DataType.FLOAT);
  for (const strides of consts.filter((t) => t.dims.length === 2 && t.dims[0] === 1)) {
    const n = strides.dims[1];
    const levels = strideLevels(toFloat32(strides));
    const fits = levels.length > 0 && levels.every((l) => Number.isInteger(l.stride) && l.stride > 0 && size % l.stride === 0 && l.count === (size / l.stride) ** 2);
    if (!fits) continue;
    const expected = anchorGrid(size, levels.map((l) => l.stride)).points;
    const anchors = consts.filter((t) => t.dims.length === 3 && t.dims[0] === 1 && t.dims[1] === 2 && t.dims[2] === n);
    const matching = anchors.filter((t) => toFloat32(t).every((v, i) => Math.abs(v - expected[i]) < 1e-4));
    if (matching.length === 0) continue;
    return { anchors: matching, strides, levels: levels.map((l) => l.stride) };
  }
  throw new ResizeError(`no Detect head anchors found: expected a float constant [1,2,N] of make_anchors grid centres and a [1,N] stride row for input size ${size}`);
}

/**
 * A copy of `input` at input size `imgsz` (square, a multiple of the largest
 * stride). Convs, weights and every other node are untouched.
 */
export function resizeModel(input: Model, imgsz: number, options: { baseSha256?: string } = {}): { model: Model; report: ResizeReport } {
  const from = modelInputSize(input);
  const model = structuredClone(input);
  const g = model.graph;
  const detect = findDetectConstants(model, from);
  const maxStride = Math.max(...detect.levels);
  if (!Number.isInteger(imgsz) || imgsz < maxStride || imgsz % maxStride !== 0) {
    // the requested size does not fit the model's strides: the caller asked wrongly (exit 2), the model is fine
    throw new EdgefitError('E_INPUT_SIZE', { reason: `--imgsz must be a positive multiple of the model's largest stride ${maxStride}, got ${imgsz}` });
  }
  const before = detect.strides.dims[1];
  const grid = anchorGrid(imgsz, detect.levels);
  const rewritten: string[] = [];
  for (const a of detect.anchors) {
    a.dims = [1, 2, grid.count];
    a.data = grid.points.slice();
    rewritten.push(a.name);
  }
  detect.strides.dims = [1, grid.count];
  detect.strides.data = grid.strides.slice();
  rewritten.push(detect.strides.name);

  const cons = consumers(g);
  for (const t of allConstants(model)) {
    if (t.dataType !== DataType.INT64) continue;
    const readers = cons.get(t.name) ?? [];
    const shapeOf = readers.filter((r) => (r.opType === 'Reshape' && r.inputs[1] === t.name) || (r.opType === 'Resize' && r.inputs[3] === t.name));
    if (shapeOf.length === 0 || shapeOf.length !== readers.length) continue;
    const values = toNumbers(t);
    if (readers[0].opType === 'Resize') {
      // Static output sizes [N,C,H,W] scale with the input.
      if (values.length !== 4 || (values[2] * imgsz) % from !== 0 || (values[3] * imgsz) % from !== 0) throw new ResizeError(`Resize '${readers[0].name}' has sizes [${values.join(',')}] that do not scale to input ${imgsz}`);
      t.data = BigInt64Array.from([values[0], values[1], (values[2] * imgsz) / from, (values[3] * imgsz) / from].map(BigInt));
      rewritten.push(t.name);
    } else if (values.at(-1) === before) {
      // The anchor axis is the last one of every head reshape ([1,4,16,N], [1,84,N]); at 64 px N is 84,
      // the same as 4 + 80 classes, so only the last axis may be taken for it.
      t.data = BigInt64Array.from(values.map((v, i) => BigInt(i === values.length - 1 ? grid.count : v)));
      rewritten.push(t.name);
    }
  }

  const image = g.inputs.find((i) => !g.initializers.has(i.name))!;
  image.shape = [image.shape![0], image.shape![1], imgsz, imgsz];
  for (const o of g.outputs) if (o.shape) o.shape = o.shape.map((d, i) => (i === o.shape!.length - 1 && d === before ? grid.count : d));
  // Intermediate shapes recorded for the old size would contradict the new one.
  g.valueInfo = [];
  if (model.metadata.has('imgsz')) model.metadata.set('imgsz', `[${imgsz}, ${imgsz}]`);

  const types = inferShapes(model);
  for (const o of g.outputs) {
    const shape = types.get(o.name)?.shape;
    if (shape && o.shape && shape.some((d, i) => typeof d === 'number' && typeof o.shape![i] === 'number' && d !== o.shape![i])) {
      throw new ResizeError(`after resizing, output '${o.name}' infers as [${shape.join(',')}] but should be [${o.shape.join(',')}]: some constant still holds the old size`);
    }
  }
  addLineageStep(model, options.baseSha256 ?? sha256Hex(writeModel(input)), 'resize', { from, to: imgsz });
  return { model, report: { from, to: imgsz, strides: detect.levels, anchorsBefore: before, anchorsAfter: grid.count, rewritten } };
}
