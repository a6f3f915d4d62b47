// Sliding-window ops over the spatial dims: convolutions and pools.
import { DataType, intAttr, intsAttr, type DataTypeId } from '../ir.js';
import { windowOut, type InferContext, type ValueType } from '../shape-math.js';
import { input, type Rule, type RuleEntry } from './rule.js';

/** Conv, ConvInteger, QLinearConv: X at xi, W at wi. */
export const conv = (xi: number, wi: number, elemType: (ctx: InferContext) => DataTypeId | undefined): Rule => (ctx) => {
  const x = input(ctx, xi), w = input(ctx, wi);
  const et = elemType(ctx);
  if (!x || !w || et === undefined || x.shape.length < 3) return undefined;
  const kernel = intsAttr(ctx.node, 'kernel_shape', w.shape.slice(2).map((d) => (typeof d === 'number' ? d : NaN)));
  if (kernel.some(Number.isNaN)) return undefined;
  return [{ elemType: et, shape: [x.shape[0], w.shape[0], ...windowOut(ctx.node, x.shape.slice(2), kernel)] }];
};

export const pool: Rule = (ctx) => {
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

export const convPoolOps: RuleEntry[] = [
  ['Conv', conv(0, 1, (ctx) => input(ctx, 0)?.elemType)],
  ['MaxPool', pool],
  ['AveragePool', pool],
  ['GlobalAveragePool', globalPool],
  ['GlobalMaxPool', globalPool],
];
