// The channel dependency graph: every channel of every tensor is a slot, and
// ops that carry a channel through unchanged (element-wise, pooling, resize,
// normalization, depthwise conv) or move it to a known offset (Concat, Split,
// Slice on the channel axis) join slots into one component. A component is one
// channel that can only be removed everywhere at once. Ops that mix channels
// any other way (Reshape, Transpose, Softmax, Gemm...) and graph inputs and
// outputs block their slots. Nothing here knows YOLOv8: the couplings of C2f,
// SPPF and the neck concats fall out of these rules.
import { intAttr, intsAttr, type Graph, type Model, type Node, type Tensor } from '../onnx/ir.js';
import { constValue, producers, topologicalOrder } from '../onnx/graph.js';
import { inferShapes, opsetVersion, type ValueType } from '../onnx/shapes.js';
import { toNumbers } from '../onnx/tensor.js';
import { UnionFind } from './union-find.js';

/** The channel slots of one tensor: channels along `axis`, slot ids offset..offset+channels-1. */
export interface ValueSlots {
  name: string;
  offset: number;
  channels: number;
  axis: number;
  /** An initializer or Constant: sliced with its component, never computed. */
  constant: boolean;
}

/** A Conv whose weights are constants: it produces its output's channels and consumes its input's. */
export interface ConvRole {
  node: Node;
  input: string;
  output: string;
  weight: string;
  bias?: string;
  group: number;
  /** group > 1 with one input channel per group: pruning drops whole groups. */
  depthwise: boolean;
  weightDims: number[];
}

/** Channel-axis bookkeeping that surgery must rewrite once channels go. */
export interface ChannelEdit {
  kind: 'split' | 'slice' | 'resize-sizes';
  node: Node;
}

export interface DependencyGraph {
  model: Model;
  types: Map<string, ValueType>;
  values: Map<string, ValueSlots>;
  slotCount: number;
  /** Component root of every slot. */
  root: Int32Array;
  /** Roots that may not be removed (they touch a blocking op, an input or an output). */
  blockedRoots: Set<number>;
  convs: ConvRole[];
  edits: ChannelEdit[];
}

const PASSTHROUGH = new Set([
  'Relu', 'LeakyRelu', 'Sigmoid', 'HardSigmoid', 'HardSwish', 'Tanh', 'Elu', 'Selu', 'Celu', 'Softplus', 'Softsign', 'Mish', 'Gelu',
  'Identity', 'Cast', 'Neg', 'Abs', 'Exp', 'Log', 'Sqrt', 'Reciprocal', 'Erf', 'Floor', 'Ceil', 'Round', 'Sin', 'Cos', 'Dropout', 'Clip',
  'MaxPool', 'AveragePool', 'LpPool',
]);
const ELEMENTWISE = new Set(['Add', 'Sub', 'Mul', 'Div', 'Pow', 'Max', 'Min', 'Sum', 'Mean', 'PRelu', 'Where']);
/** Per-channel parameter inputs (index ≥ 1) that are sliced with the channel. */
const NORMALIZATION = new Set(['BatchNormalization', 'InstanceNormalization']);
/** Ops that only read a tensor's shape (or nothing of its channels' values). */
const SHAPE_ONLY = new Set(['Shape', 'Size']);

class Builder {
  readonly values = new Map<string, ValueSlots>();
  slotCount = 0;
  private readonly pairs: number[] = [];
  private readonly blocked: number[] = [];
  readonly convs: ConvRole[] = [];
  readonly edits: ChannelEdit[] = [];
  private readonly prod: Map<string, Node>;

  constructor(
    private readonly g: Graph,
    readonly types: Map<string, ValueType>,
  ) {
    this.prod = producers(g);
  }

  const(name: string): Tensor | undefined {
    return name ? constValue(this.g, name, this.prod) : undefined;
  }

  rank(name: string): number | undefined {
    const c = this.const(name);
    if (c) return c.dims.length;
    return this.types.get(name)?.shape.length;
  }

  /** Slots of a computed tensor (channel axis 1), or undefined when its channel count is unknown. */
  slots(name: string): ValueSlots | undefined {
    const have = this.values.get(name);
    if (have) return have;
    if (!name || this.const(name)) return undefined;
    const shape = this.types.get(name)?.shape;
    const c = shape && shape.length >= 2 ? shape[1] : undefined;
    if (typeof c !== 'number' || c < 1) return undefined;
    return this.add(name, c, 1, false);
  }

  /** Slots of a constant along `axis`; a constant asked for two different axes is blocked. */
  constSlots(name: string, axis: number): ValueSlots | undefined {
    const have = this.values.get(name);
    if (have) {
      if (have.axis !== axis) this.block(have);
      return have;
    }
    const t = this.const(name)!;
    return this.add(name, t.dims[axis], axis, true);
  }

  private add(name: string, channels: number, axis: number, constant: boolean): ValueSlots {
    const v: ValueSlots = { name, offset: this.slotCount, channels, axis, constant };
    this.slotCount += channels;
    this.values.set(name, v);
    return v;
  }

  union(a: ValueSlots, ai: number, b: ValueSlots, bi: number): void {
    this.pairs.push(a.offset + ai, b.offset + bi);
  }

  coupleAll(a: ValueSlots, b: ValueSlots): boolean {
    if (a.channels !== b.channels) return false;
    for (let i = 0; i < a.channels; i++) this.union(a, i, b, i);
    return true;
  }

  block(v: ValueSlots | undefined): void {
    if (v) for (let i = 0; i < v.channels; i++) this.blocked.push(v.offset + i);
  }

  blockNode(n: Node): void {
    for (const name of [...n.inputs, ...n.outputs]) if (name && !this.const(name)) this.block(this.slots(name));
  }

  finish(): { root: Int32Array; blockedRoots: Set<number> } {
    const uf = new UnionFind(this.slotCount);
    for (let i = 0; i < this.pairs.length; i += 2) uf.union(this.pairs[i], this.pairs[i + 1]);
    const root = new Int32Array(this.slotCount);
    for (let i = 0; i < this.slotCount; i++) root[i] = uf.find(i);
    return { root, blockedRoots: new Set(this.blocked.map((s) => root[s])) };
  }
}

function normAxis(axis: number, rank: number): number {
  return axis < 0 ? axis + rank : axis;
}

function conv(b: Builder, n: Node): void {
  const x = b.slots(n.inputs[0]);
  const y = b.slots(n.outputs[0]);
  const w = b.const(n.inputs[1]);
  const biasOk = !n.inputs[2] || b.const(n.inputs[2]);
  if (!x || !y || !w || !biasOk || w.dims[0] !== y.channels) return b.blockNode(n);
  const group = intAttr(n, 'group', 1);
  const perGroupIn = w.dims[1];
  const depthwise = group > 1 && perGroupIn === 1 && group === x.channels;
  if (group > 1) {
    if (x.channels % group !== 0 || y.channels % group !== 0) return b.blockNode(n);
    const outPerGroup = y.channels / group;
    if (depthwise) {
      // Input channel c feeds outputs c·m .. c·m+m-1 alone: they live and die together.
      for (let c = 0; c < x.channels; c++) for (let j = 0; j < outPerGroup; j++) b.union(x, c, y, c * outPerGroup + j);
    } else {
      // Grouped conv keeps its group count, so the same local index goes in every group.
      for (let k = 1; k < group; k++) {
        for (let j = 0; j < perGroupIn; j++) b.union(x, j, x, k * perGroupIn + j);
        for (let j = 0; j < outPerGroup; j++) b.union(y, j, y, k * outPerGroup + j);
      }
    }
  }
  b.convs.push({ node: n, input: n.inputs[0], output: n.outputs[0], weight: n.inputs[1], bias: n.inputs[2] || undefined, group, depthwise, weightDims: [...w.dims] });
}

/** Element-wise ops broadcast numpy-style: an operand either carries the output's channels or is broadcast over them. */
function elementwise(b: Builder, n: Node): void {
  const y = b.slots(n.outputs[0]);
  const outRank = b.rank(n.outputs[0]);
  if (!y || outRank === undefined) return b.blockNode(n);
  for (let i = 0; i < n.inputs.length; i++) {
    const name = n.inputs[i];
    if (!name) continue;
    const rank = b.rank(name);
    if (rank === undefined) return b.blockNode(n);
    const axis = 1 - (outRank - rank);
    const t = b.const(name);
    const dims = t ? t.dims : b.types.get(name)!.shape;
    if (axis < 0 || dims[axis] === 1) continue; // broadcast along channels: nothing to slice
    if (dims[axis] !== y.channels) return b.blockNode(n);
    const v = t ? b.constSlots(name, axis) : axis === 1 ? b.slots(name) : undefined;
    if (!v || !b.coupleAll(v, y)) return b.blockNode(n);
  }
}

function passthrough(b: Builder, n: Node): void {
  const x = b.slots(n.inputs[0]);
  const y = b.slots(n.outputs[0]);
  if (!x || !y || !b.coupleAll(x, y)) return b.blockNode(n);
  // MaxPool's optional indices output encodes channel positions.
  for (const extra of n.outputs.slice(1)) if (extra) b.block(b.slots(extra));
}

function normalization(b: Builder, n: Node): void {
  const x = b.slots(n.inputs[0]);
  const y = b.slots(n.outputs[0]);
  if (!x || !y || !b.coupleAll(x, y)) return b.blockNode(n);
  for (const p of n.inputs.slice(1)) {
    const t = b.const(p);
    if (!t || t.dims.length !== 1 || t.dims[0] !== y.channels) return b.blockNode(n);
    b.coupleAll(b.constSlots(p, 0)!, y);
  }
}

function resize(b: Builder, n: Node): void {
  const scalesName = n.opType === 'Upsample' ? n.inputs[1] : n.inputs[2];
  const scales = b.const(scalesName ?? '');
  if (scales && scales.dims[0] >= 2 && toNumbers(scales)[1] !== 1) return b.blockNode(n);
  const sizes = n.opType === 'Resize' && n.inputs[3] ? b.const(n.inputs[3]) : undefined;
  if (n.opType === 'Resize' && n.inputs[3] && !sizes) return b.blockNode(n);
  if (sizes) b.edits.push({ kind: 'resize-sizes', node: n });
  passthrough(b, n);
}

function pad(b: Builder, n: Node, opset: number): void {
  const r = b.rank(n.inputs[0]);
  const pads = opset >= 11 ? b.const(n.inputs[1] ?? '') : undefined;
  const values = opset >= 11 ? (pads ? toNumbers(pads) : undefined) : intsAttr(n, 'pads', []);
  if (r === undefined || !values || n.inputs[3] || values[1] !== 0 || values[r + 1] !== 0) return b.blockNode(n);
  passthrough(b, n);
}

function concat(b: Builder, n: Node): void {
  const y = b.slots(n.outputs[0]);
  const r = b.rank(n.outputs[0]);
  const parts = n.inputs.map((i) => b.slots(i));
  if (!y || r === undefined || parts.some((p) => !p)) return b.blockNode(n);
  if (normAxis(intAttr(n, 'axis', 0), r) !== 1) {
    for (const p of parts) if (!b.coupleAll(p!, y)) return b.blockNode(n);
    return;
  }
  let offset = 0;
  for (const p of parts) {
    for (let i = 0; i < p!.channels; i++) b.union(p!, i, y, offset + i);
    offset += p!.channels;
  }
  if (offset !== y.channels) b.blockNode(n);
}

/** Split sizes along its axis, from the attribute, the second input, or an even split. */
export function splitSizes(n: Node, total: number, constOf: (name: string) => Tensor | undefined): number[] | undefined {
  const attr = n.attributes.get('split');
  if (attr?.type === 'ints') return attr.value;
  if (n.inputs[1]) {
    const t = constOf(n.inputs[1]);
    return t ? toNumbers(t) : undefined;
  }
  const parts = n.outputs.length;
  return total % parts === 0 ? new Array<number>(parts).fill(total / parts) : undefined;
}

function split(b: Builder, n: Node): void {
  const x = b.slots(n.inputs[0]);
  const r = b.rank(n.inputs[0]);
  const outs = n.outputs.map((o) => b.slots(o));
  if (!x || r === undefined || outs.some((o) => !o)) return b.blockNode(n);
  if (normAxis(intAttr(n, 'axis', 0), r) !== 1) {
    for (const o of outs) if (!b.coupleAll(x, o!)) return b.blockNode(n);
    return;
  }
  const sizes = splitSizes(n, x.channels, (name) => b.const(name));
  if (!sizes || sizes.length !== outs.length || sizes.some((s, i) => s !== outs[i]!.channels)) return b.blockNode(n);
  let offset = 0;
  outs.forEach((o) => {
    for (let i = 0; i < o!.channels; i++) b.union(x, offset + i, o!, i);
    offset += o!.channels;
  });
  b.edits.push({ kind: 'split', node: n });
}

export interface SliceSpec {
  starts: number[];
  ends: number[];
  axes: number[];
  steps: number[];
}

export function sliceSpec(n: Node, opset: number, rank: number, constOf: (name: string) => Tensor | undefined): SliceSpec | undefined {
  if (opset < 10) {
    const starts = intsAttr(n, 'starts', []);
    return { starts, ends: intsAttr(n, 'ends', []), axes: intsAttr(n, 'axes', starts.map((_, i) => i)).map((a) => normAxis(a, rank)), steps: starts.map(() => 1) };
  }
  const get = (i: number) => (n.inputs[i] ? constOf(n.inputs[i]) : undefined);
  const [s, e, a, st] = [get(1), get(2), get(3), get(4)];
  if (!s || !e || (n.inputs[3] && !a) || (n.inputs[4] && !st)) return undefined;
  const starts = toNumbers(s);
  return { starts, ends: toNumbers(e), axes: a ? toNumbers(a).map((x) => normAxis(x, rank)) : starts.map((_, i) => i), steps: st ? toNumbers(st) : starts.map(() => 1) };
}

/** [start, end) of a step-1 slice of `channels`, with ONNX clamping. */
export function clampSlice(start: number, end: number, channels: number): [number, number] {
  const s = start < 0 ? Math.max(0, start + channels) : Math.min(start, channels);
  const e = end < 0 ? Math.max(0, end + channels) : Math.min(end, channels);
  return [s, Math.max(s, e)];
}

function slice(b: Builder, n: Node, opset: number): void {
  const x = b.slots(n.inputs[0]);
  const y = b.slots(n.outputs[0]);
  const r = b.rank(n.inputs[0]);
  if (!x || !y || r === undefined) return b.blockNode(n);
  const spec = sliceSpec(n, opset, r, (name) => b.const(name));
  if (!spec) return b.blockNode(n);
  const k = spec.axes.indexOf(1);
  if (k < 0) {
    if (!b.coupleAll(x, y)) b.blockNode(n);
    return;
  }
  if (spec.steps[k] !== 1) return b.blockNode(n);
  const [s, e] = clampSlice(spec.starts[k], spec.ends[k], x.channels);
  if (e - s !== y.channels) return b.blockNode(n);
  for (let i = 0; i < y.channels; i++) b.union(x, s + i, y, i);
  b.edits.push({ kind: 'slice', node: n });
}

/** Builds the channel dependency graph of a float model. */
export function buildDependencyGraph(model: Model): DependencyGraph {
  const g = model.graph;
  const types = inferShapes(model);
  const b = new Builder(g, types);
  const opset = opsetVersion(model, '');
  const initializers = new Set(g.initializers.keys());
  for (const i of g.inputs) if (!initializers.has(i.name)) b.block(b.slots(i.name));
  for (const n of topologicalOrder(g)) {
    if (n.domain !== '' && n.domain !== 'ai.onnx') b.blockNode(n);
    else if (n.opType === 'Conv') conv(b, n);
    else if (ELEMENTWISE.has(n.opType)) elementwise(b, n);
    else if (PASSTHROUGH.has(n.opType)) passthrough(b, n);
    else if (NORMALIZATION.has(n.opType)) normalization(b, n);
    else if (n.opType === 'Resize' || n.opType === 'Upsample') resize(b, n);
    else if (n.opType === 'Pad') pad(b, n, opset);
    else if (n.opType === 'Concat') concat(b, n);
    else if (n.opType === 'Split') split(b, n);
    else if (n.opType === 'Slice') slice(b, n, opset);
    else if (n.opType === 'Constant' || SHAPE_ONLY.has(n.opType)) continue;
    else b.blockNode(n);
  }
  for (const o of g.outputs) b.block(b.slots(o.name));
  // A constant that is also some conv's weight cannot be sliced as a channel vector.
  for (const c of b.convs) for (const p of [c.weight, c.bias]) if (p) b.block(b.values.get(p));
  const { root, blockedRoots } = b.finish();
  return { model, types, values: b.values, slotCount: b.slotCount, root, blockedRoots, convs: b.convs, edits: b.edits };
}
