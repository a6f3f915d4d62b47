// Matrix products: MatMul with numpy batch broadcasting, and Gemm.
import { intAttr, type DataTypeId, type Dim } from '../ir.js';
import { broadcast, type InferContext } from '../shape-math.js';
import { input, type Rule, type RuleEntry } from './rule.js';

function matmulShape(a: Dim[], b: Dim[]): Dim[] {
  const a2 = a.length === 1 ? [1, a[0]] : a;
  const b2 = b.length === 1 ? [b[0], 1] : b;
  const batch = broadcast([a2.slice(0, -2), b2.slice(0, -2)]);
  const out = [...batch, a2[a2.length - 2], b2[b2.length - 1]];
  if (a.length === 1) out.splice(out.length - 2, 1);
  if (b.length === 1) out.pop();
  return out;
}

/** MatMul, MatMulInteger, QLinearMatMul: A at ai, B at bi. */
export const matmul = (ai: number, bi: number, elemType?: (ctx: InferContext) => DataTypeId | undefined): Rule => (ctx) => {
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

export const matmulOps: RuleEntry[] = [
  ['MatMul', matmul(0, 1)],
  ['Gemm', gemm],
];
