import { opKey } from '../../../compress/onnx/info.js';
import type { Model } from '../../../compress/onnx/ir.js';
import { optimizedModel } from '../../../compress/onnx/optimized.js';

/** Ops of the graph onnxruntime actually runs after its optimizations, dumped through optimizedModelFilePath. */
export async function optimizedOps(model: Model): Promise<Record<string, number>> {
  const ops: Record<string, number> = {};
  for (const n of (await optimizedModel(model)).graph.nodes) ops[opKey(n)] = (ops[opKey(n)] ?? 0) + 1;
  return ops;
}

/** Integer kernels: QLinearConv, ConvInteger, MatMulInteger or com.microsoft QLinear* ops. */
export function integerKernelCount(ops: Record<string, number>): number {
  return Object.entries(ops)
    .filter(([op]) => /(^|\.)(QLinearConv|ConvInteger|MatMulInteger)$/.test(op) || /^com\.microsoft\.QLinear/.test(op))
    .reduce((s, [, n]) => s + n, 0);
}
