// Quantized ops: QDQ (Quantize/DequantizeLinear), dynamic quantization, the
// integer Conv/MatMul, and the com.microsoft QOperator contrib ops. Each
// reuses the float rule of its family with the quantized operand positions.
import { DataType, intAttr, type DataTypeId } from '../ir.js';
import type { InferContext, ValueType } from '../shape-math.js';
import { conv, pool } from './conv-pool.js';
import { binary } from './elementwise.js';
import { matmul } from './matmul.js';
import { input, same, type Rule, type RuleEntry } from './rule.js';
import { concatShapes } from './tensor-layout.js';

const zeroPointType = (ctx: InferContext, i: number, fallback: DataTypeId): DataTypeId => {
  const outputDtype = intAttr(ctx.node, 'output_dtype', 0);
  if (outputDtype) return outputDtype as DataTypeId;
  return input(ctx, i)?.elemType ?? fallback;
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

const qlinearGlobalAveragePool: Rule = (ctx) => {
  const x = input(ctx, 0);
  if (!x) return undefined;
  const last = intAttr(ctx.node, 'channels_last', 0) === 1;
  return [{ elemType: x.elemType, shape: x.shape.map((d, i) => (i === 0 || (last ? i === x.shape.length - 1 : i === 1) ? d : 1)) }];
};

export const quantizeOps: RuleEntry[] = [
  ['QuantizeLinear', (ctx) => [same(ctx, 0, zeroPointType(ctx, 2, DataType.UINT8))]],
  ['DequantizeLinear', (ctx) => [same(ctx, 0, input(ctx, 1)?.elemType ?? DataType.FLOAT)]],
  ['DynamicQuantizeLinear', (ctx) => [same(ctx, 0, DataType.UINT8), { elemType: DataType.FLOAT, shape: [] }, { elemType: DataType.UINT8, shape: [] }]],
  ['ConvInteger', conv(0, 1, () => DataType.INT32)],
  ['QLinearConv', conv(0, 3, (ctx) => input(ctx, 7)?.elemType ?? input(ctx, 0)?.elemType)],
  ['MatMulInteger', matmul(0, 1, () => DataType.INT32)],
  ['QLinearMatMul', matmul(0, 3, (ctx) => input(ctx, 7)?.elemType)],
  // com.microsoft QOperator contrib ops: element-wise on their quantized input.
  ['QLinearSigmoid', (ctx) => [same(ctx, 0)]],
  ['QLinearLeakyRelu', (ctx) => [same(ctx, 0)]],
  ['QLinearSoftmax', (ctx) => [same(ctx, 0)]],
  ['QLinearAdd', (ctx) => [binary(ctx, 0, 3, input(ctx, 7)?.elemType)]],
  ['QLinearMul', (ctx) => [binary(ctx, 0, 3, input(ctx, 7)?.elemType)]],
  ['QLinearConcat', qlinearConcat],
  ['QLinearGlobalAveragePool', qlinearGlobalAveragePool],
  ['QLinearAveragePool', pool],
];
