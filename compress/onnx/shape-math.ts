// Shape arithmetic shared by the op rules: broadcasting, conv/pool windows,
// axis handling, and folding of small constant tensors.
import { DataType, intsAttr, numel, type DataTypeId, type Dim, type Node, type Tensor } from './ir.js';
import { toNumbers } from './tensor.js';

export interface ValueType {
  elemType: DataTypeId;
  shape: Dim[];
}

/** A folded small tensor: its values as numbers, row-major. */
export type Folded = number[];

export interface InferContext {
  types: Map<string, ValueType>;
  folded: Map<string, Folded>;
  opset: number;
  node: Node;
}

/** Folding is for shape arithmetic; bigger tensors are weights, never needed as numbers here. */
export const FOLD_LIMIT = 64;

export function foldTensor(t: Tensor): Folded | undefined {
  if (Array.isArray(t.data) || numel(t.dims) > FOLD_LIMIT || t.dataType === DataType.FLOAT16 || t.dataType === DataType.BFLOAT16) return undefined;
  return toNumbers(t);
}

/** numpy-style broadcast of several shapes; unknown dims stay unknown unless another side fixes them. */
export function broadcast(shapes: Dim[][]): Dim[] {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    let d: Dim = 1;
    for (const s of shapes) {
      const k = s.length - rank + i;
      if (k < 0) continue;
      const e = s[k];
      if (e === 1) continue;
      if (d === 1) d = e;
      else if (typeof e === 'number' && typeof d === 'number' && e !== d) throw new Error(`cannot broadcast ${e} with ${d}`);
      else if (typeof d !== 'number' && typeof e === 'number') d = e;
    }
    out.push(d);
  }
  return out;
}

/** Spatial output size of a conv/pool window, or null when the input size is unknown. */
export function windowOut(node: Node, inSize: Dim[], kernel: number[], ceil = false): Dim[] {
  const k = kernel.length;
  const strides = intsAttr(node, 'strides', new Array(k).fill(1));
  const dilations = intsAttr(node, 'dilations', new Array(k).fill(1));
  const pads = intsAttr(node, 'pads', new Array(2 * k).fill(0));
  const autoPad = node.attributes.get('auto_pad');
  const mode = autoPad?.type === 'string' ? autoPad.value : 'NOTSET';
  return inSize.map((d, i) => {
    if (typeof d !== 'number') return null;
    const span = dilations[i] * (kernel[i] - 1) + 1;
    if (mode === 'SAME_UPPER' || mode === 'SAME_LOWER') return Math.ceil(d / strides[i]);
    if (mode === 'VALID') return Math.floor((d - span) / strides[i]) + 1;
    const num = d + pads[i] + pads[i + k] - span;
    const out = (ceil ? Math.ceil(num / strides[i]) : Math.floor(num / strides[i])) + 1;
    // ceil_mode must not start a window inside the right padding (ONNX/PyTorch rule).
    return ceil && (out - 1) * strides[i] >= d + pads[i] ? out - 1 : out;
  });
}

export function normAxis(axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) throw new Error(`axis ${axis} out of range for rank ${rank}`);
  return a;
}

export function axesOf(ctx: InferContext, attrName: string, inputIndex: number): number[] | undefined {
  const n = ctx.node;
  if (n.attributes.has(attrName)) return intsAttr(n, attrName, []);
  const input = n.inputs[inputIndex];
  return input ? ctx.folded.get(input) : undefined;
}

