// Ops that create tensors rather than transform an input: Constant, Shape,
// ConstantOfShape, Range. Their small integer outputs are folded, since they
// are what shape arithmetic starts from.
import { DataType, intAttr, type DataTypeId } from '../ir.js';
import { foldTensor } from '../shape-math.js';
import { fold, folded, input, type Rule, type RuleEntry } from './rule.js';

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

export const constantOps: RuleEntry[] = [
  ['Constant', constant],
  ['Shape', shapeOp],
  ['ConstantOfShape', constantOfShape],
  ['Range', range],
];
