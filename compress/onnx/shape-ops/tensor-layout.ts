// Ops that move, cut, join or re-view tensor data without computing on it:
// Reshape/Transpose/Flatten/(Un)Squeeze, Concat/Split/Slice/Gather,
// Expand/Tile, Resize. Small 1-D inputs are folded through, because the
// Shape → Gather → Unsqueeze → Concat → Reshape chains compute shapes with them.
import { intAttr, intsAttr, type Dim } from '../ir.js';
import { axesOf, broadcast, normAxis, type ValueType } from '../shape-math.js';
import { fold, folded, input, product, type Rule, type RuleEntry } from './rule.js';

export function concatShapes(shapes: Dim[][], axis: number): Dim[] {
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

const expand: Rule = (ctx) => {
  const x = input(ctx, 0), target = folded(ctx, 1);
  return x && target ? [{ elemType: x.elemType, shape: broadcast([x.shape, target]) }] : undefined;
};

const tile: Rule = (ctx) => {
  const x = input(ctx, 0), reps = folded(ctx, 1);
  return x && reps ? [{ elemType: x.elemType, shape: x.shape.map((d, i) => (typeof d === 'number' ? d * reps[i] : null)) }] : undefined;
};

export const tensorLayoutOps: RuleEntry[] = [
  ['Concat', concat],
  ['Split', split],
  ['Slice', slice],
  ['Resize', resize],
  ['Upsample', resize],
  ['Reshape', reshape],
  ['Transpose', transpose],
  ['Gather', gather],
  ['Unsqueeze', unsqueeze],
  ['Squeeze', squeeze],
  ['Flatten', flatten],
  ['Expand', expand],
  ['Tile', tile],
];
