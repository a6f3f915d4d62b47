// Per-op shape rules for shapes.ts. Each rule reads input types (and folded
// small constants) from the context and returns output types in output order;
// undefined means "cannot tell", never an error.
import { DataType, intAttr, intsAttr, numel, type DataTypeId, type Dim, type Model } from './ir.js';
import { axesOf, broadcast, FOLD_LIMIT, foldTensor, normAxis, windowOut, type InferContext, type ValueType } from './shape-math.js';

type Rule = (ctx: InferContext) => (ValueType | undefined)[] | undefined;

export function opsetVersion(model: Model, domain: string): number {
  const o = model.opsetImports.find((x) => x.domain === domain || (domain === '' && x.domain === 'ai.onnx'));
  return o?.version ?? 0;
}

const input = (ctx: InferContext, i: number): ValueType | undefined => {
  const name = ctx.node.inputs[i];
  return name ? ctx.types.get(name) : undefined;
};
const folded = (ctx: InferContext, i: number): number[] | undefined => {
  const name = ctx.node.inputs[i];
  return name ? ctx.folded.get(name) : undefined;
};
const fold = (ctx: InferContext, values: number[], output = 0): void => {
  if (values.length <= FOLD_LIMIT) ctx.folded.set(ctx.node.outputs[output], values);
};
const same = (ctx: InferContext, i = 0, elemType?: DataTypeId): ValueType | undefined => {
  const t = input(ctx, i);
  return t && { elemType: elemType ?? t.elemType, shape: [...t.shape] };
};
const product = (dims: Dim[]): Dim => (dims.every((d) => typeof d === 'number') ? numel(dims as number[]) : null);

const unary: Rule = (ctx) => [same(ctx)];

function binary(ctx: InferContext, a: number, b: number, elemType?: DataTypeId): ValueType | undefined {
  const x = input(ctx, a), y = input(ctx, b);
  if (!x || !y) return undefined;
  return { elemType: elemType ?? x.elemType, shape: broadcast([x.shape, y.shape]) };
}

const arith = (f: (x: number, y: number) => number): Rule => (ctx) => {
  const out = binary(ctx, 0, 1);
  const x = folded(ctx, 0), y = folded(ctx, 1);
  if (out && x && y && (x.length === 1 || y.length === 1 || x.length === y.length)) {
    const n = Math.max(x.length, y.length);
    const int = out.elemType !== DataType.FLOAT && out.elemType !== DataType.DOUBLE;
    fold(ctx, Array.from({ length: n }, (_, i) => {
      const v = f(x[x.length === 1 ? 0 : i], y[y.length === 1 ? 0 : i]);
      return int ? Math.trunc(v) : v;
    }));
  }
  return [out];
};

const compare: Rule = (ctx) => [binary(ctx, 0, 1, DataType.BOOL)];

/** Conv, ConvInteger, QLinearConv: X at xi, W at wi. */
const conv = (xi: number, wi: number, elemType: (ctx: InferContext) => DataTypeId | undefined): Rule => (ctx) => {
  const x = input(ctx, xi), w = input(ctx, wi);
  const et = elemType(ctx);
  if (!x || !w || et === undefined || x.shape.length < 3) return undefined;
  const kernel = intsAttr(ctx.node, 'kernel_shape', w.shape.slice(2).map((d) => (typeof d === 'number' ? d : NaN)));
  if (kernel.some(Number.isNaN)) return undefined;
  return [{ elemType: et, shape: [x.shape[0], w.shape[0], ...windowOut(ctx.node, x.shape.slice(2), kernel)] }];
};

const pool: Rule = (ctx) => {
  const x = input(ctx, 0);
  if (!x) return undefined;
  const kernel = intsAttr(ctx.node, 'kernel_shape', []);
  const out: ValueType = { elemType: x.elemType, shape: [x.shape[0], x.shape[1], ...windowOut(ctx.node, x.shape.slice(2), kernel, intAttr(ctx.node, 'ceil_mode', 0) === 1)] };
  return [out, { elemType: DataType.INT64, shape: [...out.shape] }];
};

const globalPool: Rule = (ctx) => {
  const x = input(ctx, 0);
  return x && [{ elemType: x.elemType, shape: [x.shape[0], x.shape[1], ...x.shape.slice(2).map(() => 1)] }];
};

function concatShapes(shapes: Dim[][], axis: number): Dim[] {
  const rank = shapes[0].length;
  const a = normAxis(axis, rank);
  const out = [...shapes[0]];
  out[a] = shapes.every((s) => typeof s[a] === 'number') ? shapes.reduce((s, x) => s + (x[a] as number), 0) : null;
  for (let i = 0; i < rank; i++) if (i !== a && out[i] === null) out[i] = shapes.find((s) => typeof s[i] === 'number')?.[i] ?? null;
  return out;
}

const concat: Rule = (ctx) => {
  const ins = ctx.node.inputs.map((_, i) => input(ctx, i));
  if (ins.some((t) => !t)) return undefined;
  const types = ins as ValueType[];
  const values = ctx.node.inputs.map((_, i) => folded(ctx, i));
  if (types.every((t) => t.shape.length === 1) && values.every((v) => v)) fold(ctx, values.flat() as number[]);
  return [{ elemType: types[0].elemType, shape: concatShapes(types.map((t) => t.shape), intAttr(ctx.node, 'axis', 0)) }];
};

/** com.microsoft QLinearConcat: Y_scale, Y_zero_point, then (X, scale, zero_point) triples. */
const qlinearConcat: Rule = (ctx) => {
  const zp = input(ctx, 1);
  const xs: ValueType[] = [];
  for (let i = 2; i < ctx.node.inputs.length; i += 3) {
    const t = input(ctx, i);
    if (!t) return undefined;
    xs.push(t);
  }
  if (!zp || xs.length === 0) return undefined;
  return [{ elemType: zp.elemType, shape: concatShapes(xs.map((t) => t.shape), intAttr(ctx.node, 'axis', 0)) }];
};

const split: Rule = (ctx) => {
  const x = input(ctx, 0);
  if (!x) return undefined;
  const a = normAxis(intAttr(ctx.node, 'axis', 0), x.shape.length);
  const count = ctx.node.outputs.length;
  let parts = ctx.opset >= 13 ? folded(ctx, 1) : intsAttr(ctx.node, 'split', []);
  if (!parts || parts.length === 0) {
    const d = x.shape[a];
    if (typeof d !== 'number') return ctx.node.outputs.map(() => ({ elemType: x.elemType, shape: x.shape.map((s, i) => (i === a ? null : s)) }));
    // Opset 18 num_outputs allows a smaller last chunk; equal split otherwise.
    const chunk = Math.ceil(d / count);
    parts = Array.from({ length: count }, (_, i) => Math.min(chunk, d - chunk * i));
  }
  return parts.map((p) => ({ elemType: x.elemType, shape: x.shape.map((s, i) => (i === a ? p : s)) }));
};

function sliceRange(dim: number, start: number, end: number, step: number): number {
  const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v, lo), hi);
  let s = start < 0 ? start + dim : start;
  let e = end < 0 ? end + dim : end;
  if (step > 0) {
    s = clamp(s, 0, dim);
    e = clamp(e, 0, dim);
    return Math.max(0, Math.ceil((e - s) / step));
  }
  s = clamp(s, -1, dim - 1);
  e = clamp(e, -1, dim - 1);
  return Math.max(0, Math.ceil((s - e) / -step));
}

const slice: Rule = (ctx) => {
  const x = input(ctx, 0);
  if (!x) return undefined;
  const n = ctx.node;
  const fromInputs = ctx.opset >= 10;
  const starts = fromInputs ? folded(ctx, 1) : intsAttr(n, 'starts', []);
  const ends = fromInputs ? folded(ctx, 2) : intsAttr(n, 'ends', []);
  if (!starts || !ends) return undefined;
  const axes = (fromInputs ? (n.inputs[3] ? folded(ctx, 3) : undefined) : n.attributes.has('axes') ? intsAttr(n, 'axes', []) : undefined) ?? starts.map((_, i) => i);
  const steps = (fromInputs && n.inputs[4] ? folded(ctx, 4) : undefined) ?? starts.map(() => 1);
  if (fromInputs && n.inputs[3] && !folded(ctx, 3)) return undefined;
  if (fromInputs && n.inputs[4] && !folded(ctx, 4)) return undefined;
  const shape = [...x.shape];
  axes.forEach((axis, i) => {
    const a = normAxis(axis, shape.length);
    const d = shape[a];
    shape[a] = typeof d === 'number' ? sliceRange(d, starts[i], ends[i], steps[i]) : null;
  });
  const values = folded(ctx, 0);
  if (values && x.shape.length === 1 && axes.length === 1) {
    const out: number[] = [];
    const len = values.length;
    const step = steps[0];
    let s = starts[0] < 0 ? starts[0] + len : starts[0];
    let e = ends[0] < 0 ? ends[0] + len : ends[0];
    if (step > 0) { s = Math.min(Math.max(s, 0), len); e = Math.min(Math.max(e, 0), len); for (let i = s; i < e; i += step) out.push(values[i]); }
    else { s = Math.min(Math.max(s, -1), len - 1); e = Math.min(Math.max(e, -1), len - 1); for (let i = s; i > e; i += step) out.push(values[i]); }
    fold(ctx, out);
  }
  return [{ elemType: x.elemType, shape }];
};

const resize: Rule = (ctx) => {
  const x = input(ctx, 0);
  if (!x) return undefined;
  const n = ctx.node;
  // Opset 10 and Upsample: (X, scales). Opset 11+: (X, roi, scales, sizes).
  const old = n.opType === 'Upsample' || ctx.opset < 11;
  const sizes = old ? undefined : n.inputs[3] ? folded(ctx, 3) : undefined;
  const scalesAttr = n.attributes.get('scales');
  const scales = scalesAttr?.type === 'floats' ? scalesAttr.value : old ? folded(ctx, 1) : n.inputs[2] ? folded(ctx, 2) : undefined;
  let shape: Dim[];
  if (sizes && sizes.length === x.shape.length) shape = [...sizes];
  else if (scales && scales.length === x.shape.length) shape = x.shape.map((d, i) => (typeof d === 'number' ? Math.floor(d * scales[i]) : null));
  else return undefined;
  return [{ elemType: x.elemType, shape }];
};

const reshape: Rule = (ctx) => {
  const x = input(ctx, 0);
  const target = folded(ctx, 1);
  if (!x || !target) return undefined;
  const allowZero = intAttr(ctx.node, 'allowzero', 0) === 1;
  const shape: Dim[] = target.map((d, i) => (d === 0 && !allowZero ? x.shape[i] ?? null : d === -1 ? -1 : d));
  const minus = shape.indexOf(-1);
  if (minus >= 0) {
    const total = product(x.shape);
    const rest = product(shape.filter((_, i) => i !== minus));
    shape[minus] = typeof total === 'number' && typeof rest === 'number' && rest !== 0 ? total / rest : null;
  }
  const values = folded(ctx, 0);
  if (values) fold(ctx, values);
  return [{ elemType: x.elemType, shape }];
};

const transpose: Rule = (ctx) => {
  const x = input(ctx, 0);
  if (!x) return undefined;
  const perm = intsAttr(ctx.node, 'perm', x.shape.map((_, i) => x.shape.length - 1 - i));
  return [{ elemType: x.elemType, shape: perm.map((p) => x.shape[p]) }];
};

function matmulShape(a: Dim[], b: Dim[]): Dim[] {
  const a2 = a.length === 1 ? [1, a[0]] : a;
  const b2 = b.length === 1 ? [b[0], 1] : b;
  const batch = broadcast([a2.slice(0, -2), b2.slice(0, -2)]);
  const out = [...batch, a2[a2.length - 2], b2[b2.length - 1]];
  if (a.length === 1) out.splice(out.length - 2, 1);
  if (b.length === 1) out.pop();
  return out;
}

const matmul = (ai: number, bi: number, elemType?: (ctx: InferContext) => DataTypeId | undefined): Rule => (ctx) => {
  const a = input(ctx, ai), b = input(ctx, bi);
  if (!a || !b) return undefined;
  const et = elemType ? elemType(ctx) : a.elemType;
  return et === undefined ? undefined : [{ elemType: et, shape: matmulShape(a.shape, b.shape) }];
};

const gemm: Rule = (ctx) => {
  const a = input(ctx, 0), b = input(ctx, 1);
  if (!a || !b) return undefined;
  const m = intAttr(ctx.node, 'transA', 0) ? a.shape[1] : a.shape[0];
  const n = intAttr(ctx.node, 'transB', 0) ? b.shape[0] : b.shape[1];
  return [{ elemType: a.elemType, shape: [m, n] }];
};

const cast: Rule = (ctx) => {
  const to = intAttr(ctx.node, 'to', 0) as DataTypeId;
  const v = folded(ctx, 0);
  if (v) fold(ctx, to === DataType.FLOAT || to === DataType.DOUBLE ? v : v.map(Math.trunc));
  return [same(ctx, 0, to)];
};

const zeroPointType = (ctx: InferContext, i: number, fallback: DataTypeId): DataTypeId => {
  const outputDtype = intAttr(ctx.node, 'output_dtype', 0);
  if (outputDtype) return outputDtype as DataTypeId;
  return input(ctx, i)?.elemType ?? fallback;
};

const constant: Rule = (ctx) => {
  const n = ctx.node;
  const v = n.attributes.get('value');
  if (v?.type === 'tensor') {
    const f = foldTensor(v.value);
    if (f) fold(ctx, f);
    return [{ elemType: v.value.dataType, shape: [...v.value.dims] }];
  }
  const scalar = (et: DataTypeId, x: number) => { fold(ctx, [x]); return [{ elemType: et, shape: [] }]; };
  const list = (et: DataTypeId, xs: number[]) => { fold(ctx, xs); return [{ elemType: et, shape: [xs.length] }]; };
  for (const [k, a] of n.attributes) {
    if (k === 'value_float' && a.type === 'float') return scalar(DataType.FLOAT, a.value);
    if (k === 'value_int' && a.type === 'int') return scalar(DataType.INT64, a.value);
    if (k === 'value_floats' && a.type === 'floats') return list(DataType.FLOAT, a.value);
    if (k === 'value_ints' && a.type === 'ints') return list(DataType.INT64, a.value);
  }
  return undefined;
};

const shapeOp: Rule = (ctx) => {
  const x = input(ctx, 0);
  if (!x) return undefined;
  const rank = x.shape.length;
  const clampIdx = (v: number) => Math.min(Math.max(v < 0 ? v + rank : v, 0), rank);
  const dims = x.shape.slice(clampIdx(intAttr(ctx.node, 'start', 0)), clampIdx(intAttr(ctx.node, 'end', rank)));
  if (dims.every((d) => typeof d === 'number')) fold(ctx, dims as number[]);
  return [{ elemType: DataType.INT64, shape: [dims.length] }];
};

const gather: Rule = (ctx) => {
  const x = input(ctx, 0), idx = input(ctx, 1);
  if (!x || !idx) return undefined;
  const a = normAxis(intAttr(ctx.node, 'axis', 0), x.shape.length);
  const values = folded(ctx, 0), indices = folded(ctx, 1);
  if (values && indices && x.shape.length === 1) fold(ctx, indices.map((i) => values[i < 0 ? i + values.length : i]));
  return [{ elemType: x.elemType, shape: [...x.shape.slice(0, a), ...idx.shape, ...x.shape.slice(a + 1)] }];
};

const unsqueeze: Rule = (ctx) => {
  const x = input(ctx, 0);
  const axes = axesOf(ctx, 'axes', 1);
  if (!x || !axes) return undefined;
  const rank = x.shape.length + axes.length;
  const set = new Set(axes.map((a) => normAxis(a, rank)));
  const shape: Dim[] = [];
  for (let i = 0, j = 0; i < rank; i++) shape.push(set.has(i) ? 1 : x.shape[j++]);
  const v = folded(ctx, 0);
  if (v) fold(ctx, v);
  return [{ elemType: x.elemType, shape }];
};

const squeeze: Rule = (ctx) => {
  const x = input(ctx, 0);
  if (!x) return undefined;
  const axes = axesOf(ctx, 'axes', 1);
  const set = axes ? new Set(axes.map((a) => normAxis(a, x.shape.length))) : undefined;
  if (!set && x.shape.some((d) => typeof d !== 'number')) return undefined;
  const v = folded(ctx, 0);
  if (v) fold(ctx, v);
  return [{ elemType: x.elemType, shape: x.shape.filter((d, i) => (set ? !set.has(i) : d !== 1)) }];
};

const flatten: Rule = (ctx) => {
  const x = input(ctx, 0);
  if (!x) return undefined;
  const a = intAttr(ctx.node, 'axis', 1);
  const axis = a < 0 ? a + x.shape.length : a;
  return [{ elemType: x.elemType, shape: [product(x.shape.slice(0, axis)), product(x.shape.slice(axis))] }];
};

const reduce: Rule = (ctx) => {
  const x = input(ctx, 0);
  if (!x) return undefined;
  const keep = intAttr(ctx.node, 'keepdims', 1) === 1;
  const axes = axesOf(ctx, 'axes', 1) ?? [];
  const set = new Set((axes.length ? axes : x.shape.map((_, i) => i)).map((a) => normAxis(a, x.shape.length)));
  const shape = x.shape.flatMap((d, i) => (set.has(i) ? (keep ? [1] : []) : [d]));
  return [{ elemType: ctx.node.opType === 'ArgMax' || ctx.node.opType === 'ArgMin' ? DataType.INT64 : x.elemType, shape }];
};

const argReduce: Rule = (ctx) => {
  const x = input(ctx, 0);
  if (!x) return undefined;
  const a = normAxis(intAttr(ctx.node, 'axis', 0), x.shape.length);
  const keep = intAttr(ctx.node, 'keepdims', 1) === 1;
  return [{ elemType: DataType.INT64, shape: x.shape.flatMap((d, i) => (i === a ? (keep ? [1] : []) : [d])) }];
};

const expand: Rule = (ctx) => {
  const x = input(ctx, 0), target = folded(ctx, 1);
  return x && target ? [{ elemType: x.elemType, shape: broadcast([x.shape, target]) }] : undefined;
};

const constantOfShape: Rule = (ctx) => {
  const target = folded(ctx, 0);
  const v = ctx.node.attributes.get('value');
  return target ? [{ elemType: v?.type === 'tensor' ? v.value.dataType : DataType.FLOAT, shape: [...target] }] : undefined;
};

const range: Rule = (ctx) => {
  const [s, l, d] = [folded(ctx, 0), folded(ctx, 1), folded(ctx, 2)];
  const t = input(ctx, 0);
  if (!t) return undefined;
  if (!s || !l || !d) return [{ elemType: t.elemType, shape: [null] }];
  const n = Math.max(Math.ceil((l[0] - s[0]) / d[0]), 0);
  fold(ctx, Array.from({ length: n }, (_, i) => s[0] + i * d[0]));
  return [{ elemType: t.elemType, shape: [n] }];
};

const tile: Rule = (ctx) => {
  const x = input(ctx, 0), reps = folded(ctx, 1);
  return x && reps ? [{ elemType: x.elemType, shape: x.shape.map((d, i) => (typeof d === 'number' ? d * reps[i] : null)) }] : undefined;
};

const where: Rule = (ctx) => {
  const c = input(ctx, 0), x = input(ctx, 1), y = input(ctx, 2);
  return c && x && y ? [{ elemType: x.elemType, shape: broadcast([c.shape, x.shape, y.shape]) }] : undefined;
};

const topk: Rule = (ctx) => {
  const x = input(ctx, 0), k = folded(ctx, 1);
  if (!x) return undefined;
  const a = normAxis(intAttr(ctx.node, 'axis', -1), x.shape.length);
  const shape = x.shape.map((d, i) => (i === a ? (k ? k[0] : null) : d));
  return [{ elemType: x.elemType, shape }, { elemType: DataType.INT64, shape: [...shape] }];
};

export const shapeOps = new Map<string, Rule>([
  // Element-wise, one input.
  ...['Sigmoid', 'Relu', 'LeakyRelu', 'HardSigmoid', 'HardSwish', 'Tanh', 'Exp', 'Log', 'Sqrt', 'Neg', 'Abs', 'Floor', 'Ceil', 'Round',
    'Reciprocal', 'Erf', 'Gelu', 'Elu', 'Selu', 'Softplus', 'Mish', 'Silu', 'Clip', 'Identity', 'Dropout', 'Softmax', 'LogSoftmax',
    'BatchNormalization', 'InstanceNormalization', 'LayerNormalization', 'LRN', 'Not', 'PRelu'].map((op): [string, Rule] => [op, unary]),
  ['Add', arith((x, y) => x + y)],
  ['Sub', arith((x, y) => x - y)],
  ['Mul', arith((x, y) => x * y)],
  ['Div', arith((x, y) => x / y)],
  ['Pow', (ctx) => [binary(ctx, 0, 1)]],
  ['Max', (ctx) => [binary(ctx, 0, 1)]],
  ['Min', (ctx) => [binary(ctx, 0, 1)]],
  ...['Equal', 'Greater', 'Less', 'GreaterOrEqual', 'LessOrEqual', 'And', 'Or', 'Xor'].map((op): [string, Rule] => [op, compare]),
  ['Conv', conv(0, 1, (ctx) => input(ctx, 0)?.elemType)],
  ['ConvInteger', conv(0, 1, () => DataType.INT32)],
  ['QLinearConv', conv(0, 3, (ctx) => input(ctx, 7)?.elemType ?? input(ctx, 0)?.elemType)],
  ['MaxPool', pool],
  ['AveragePool', pool],
  ['GlobalAveragePool', globalPool],
  ['GlobalMaxPool', globalPool],
  ['Concat', concat],
  ['Split', split],
  ['Slice', slice],
  ['Resize', resize],
  ['Upsample', resize],
  ['Reshape', reshape],
  ['Transpose', transpose],
  ['MatMul', matmul(0, 1)],
  ['MatMulInteger', matmul(0, 1, () => DataType.INT32)],
  ['QLinearMatMul', matmul(0, 3, (ctx) => input(ctx, 7)?.elemType)],
  ['Gemm', gemm],
  ['Cast', cast],
  ['QuantizeLinear', (ctx) => [same(ctx, 0, zeroPointType(ctx, 2, DataType.UINT8))]],
  ['DequantizeLinear', (ctx) => [same(ctx, 0, input(ctx, 1)?.elemType ?? DataType.FLOAT)]],
  ['DynamicQuantizeLinear', (ctx) => [same(ctx, 0, DataType.UINT8), { elemType: DataType.FLOAT, shape: [] }, { elemType: DataType.UINT8, shape: [] }]],
  ['Constant', constant],
  ['Shape', shapeOp],
  ['Gather', gather],
  ['Unsqueeze', unsqueeze],
  ['Squeeze', squeeze],
  ['Flatten', flatten],
  ...['ReduceMax', 'ReduceMin', 'ReduceMean', 'ReduceSum', 'ReduceProd'].map((op): [string, Rule] => [op, reduce]),
  ['ArgMax', argReduce],
  ['ArgMin', argReduce],
  ['Expand', expand],
  ['ConstantOfShape', constantOfShape],
  ['Range', range],
  ['Tile', tile],
  ['Where', where],
  ['TopK', topk],
  // com.microsoft QOperator contrib ops: element-wise on their quantized input.
  ['QLinearSigmoid', (ctx) => [same(ctx, 0)]],
  ['QLinearLeakyRelu', (ctx) => [same(ctx, 0)]],
  ['QLinearSoftmax', (ctx) => [same(ctx, 0)]],
  ['QLinearAdd', (ctx) => [binary(ctx, 0, 3, input(ctx, 7)?.elemType)]],
  ['QLinearMul', (ctx) => [binary(ctx, 0, 3, input(ctx, 7)?.elemType)]],
  ['QLinearConcat', qlinearConcat],
  ['QLinearGlobalAveragePool', (ctx) => {
    const x = input(ctx, 0);
    if (!x) return undefined;
    const last = intAttr(ctx.node, 'channels_last', 0) === 1;
    return [{ elemType: x.elemType, shape: x.shape.map((d, i) => (i === 0 || (last ? i === x.shape.length - 1 : i === 1) ? d : 1)) }];
  }],
  ['QLinearAveragePool', pool],
]);
