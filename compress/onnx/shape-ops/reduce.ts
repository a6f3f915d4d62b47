// Ops that collapse or select along axes: Reduce*, ArgMax/ArgMin, TopK.
import { DataType, intAttr } from '../ir.js';
import { axesOf, normAxis } from '../shape-math.js';
import { folded, input, type Rule, type RuleEntry } from './rule.js';

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

const topk: Rule = (ctx) => {
  const x = input(ctx, 0), k = folded(ctx, 1);
  if (!x) return undefined;
  const a = normAxis(intAttr(ctx.node, 'axis', -1), x.shape.length);
  const shape = x.shape.map((d, i) => (i === a ? (k ? k[0] : null) : d));
  return [{ elemType: x.elemType, shape }, { elemType: DataType.INT64, shape: [...shape] }];
};

export const reduceOps: RuleEntry[] = [
  ...['ReduceMax', 'ReduceMin', 'ReduceMean', 'ReduceSum', 'ReduceProd'].map((op): RuleEntry => [op, reduce]),
  ['ArgMax', argReduce],
  ['ArgMin', argReduce],
  ['TopK', topk],
];
