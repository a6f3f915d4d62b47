// What every shape rule reads: its inputs' types and folded small constants.
// A rule returns output types in output order; undefined means "cannot tell",
// never an error.
import { FOLD_LIMIT, type InferContext, type ValueType } from '../shape-math.js';
import { numel, type DataTypeId, type Dim } from '../ir.js';

export type Rule = (ctx: InferContext) => (ValueType | undefined)[] | undefined;

/** Op type → rule, for assembling the op table. */
export type RuleEntry = [string, Rule];

export const input = (ctx: InferContext, i: number): ValueType | undefined => {
  const name = ctx.node.inputs[i];
  return name ? ctx.types.get(name) : undefined;
};
export const folded = (ctx: InferContext, i: number): number[] | undefined => {
  const name = ctx.node.inputs[i];
  return name ? ctx.folded.get(name) : undefined;
};
export const fold = (ctx: InferContext, values: number[], output = 0): void => {
  if (values.length <= FOLD_LIMIT) ctx.folded.set(ctx.node.outputs[output], values);
};
export const same = (ctx: InferContext, i = 0, elemType?: DataTypeId): ValueType | undefined => {
  const t = input(ctx, i);
  return t && { elemType: elemType ?? t.elemType, shape: [...t.shape] };
};
export const product = (dims: Dim[]): Dim => (dims.every((d) => typeof d === 'number') ? numel(dims as number[]) : null);
