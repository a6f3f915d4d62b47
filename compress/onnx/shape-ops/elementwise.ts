// Element-wise ops: one input keeps its shape, several inputs broadcast.
// Integer arithmetic and casts are folded, since they compute shapes.
import { DataType, intAttr, type DataTypeId } from '../ir.js';
import { broadcast, type InferContext, type ValueType } from '../shape-math.js';
import { fold, folded, input, same, type Rule, type RuleEntry } from './rule.js';

const unary: Rule = (ctx) => [same(ctx)];

export function binary(ctx: InferContext, a: number, b: number, elemType?: DataTypeId): ValueType | undefined {
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

const where: Rule = (ctx) => {
  const c = input(ctx, 0), x = input(ctx, 1), y = input(ctx, 2);
  return c && x && y ? [{ elemType: x.elemType, shape: broadcast([c.shape, x.shape, y.shape]) }] : undefined;
};

const cast: Rule = (ctx) => {
  const to = intAttr(ctx.node, 'to', 0) as DataTypeId;
  const v = folded(ctx, 0);
  if (v) fold(ctx, to === DataType.FLOAT || to === DataType.DOUBLE ? v : v.map(Math.trunc));
  return [same(ctx, 0, to)];
};

export const elementwiseOps: RuleEntry[] = [
  // One input.
  ...['Sigmoid', 'Relu', 'LeakyRelu', 'HardSigmoid', 'HardSwish', 'Tanh', 'Exp', 'Log', 'Sqrt', 'Neg', 'Abs', 'Floor', 'Ceil', 'Round',
    'Reciprocal', 'Erf', 'Gelu', 'Elu', 'Selu', 'Softplus', 'Mish', 'Silu', 'Clip', 'Identity', 'Dropout', 'Softmax', 'LogSoftmax',
    'BatchNormalization', 'InstanceNormalization', 'LayerNormalization', 'LRN', 'Not', 'PRelu'].map((op): RuleEntry => [op, unary]),
  ['Add', arith((x, y) => x + y)],
  ['Sub', arith((x, y) => x - y)],
  ['Mul', arith((x, y) => x * y)],
  ['Div', arith((x, y) => x / y)],
  ['Pow', (ctx) => [binary(ctx, 0, 1)]],
  ['Max', (ctx) => [binary(ctx, 0, 1)]],
  ['Min', (ctx) => [binary(ctx, 0, 1)]],
  ...['Equal', 'Greater', 'Less', 'GreaterOrEqual', 'LessOrEqual', 'And', 'Or', 'Xor'].map((op): RuleEntry => [op, compare]),
  ['Where', where],
  ['Cast', cast],
];
