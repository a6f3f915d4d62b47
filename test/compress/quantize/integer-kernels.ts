import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { readModelFile } from '../../../compress/onnx/read.js';
import type { Model } from '../../../compress/onnx/ir.js';
import { writeModel } from '../../../compress/onnx/write.js';

/** Ops of the graph onnxruntime actually runs after its optimizations, dumped through optimizedModelFilePath. */
export async function optimizedOps(model: Model): Promise<Record<string, number>> {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'edgefit-opt-')), 'optimized.onnx');
  const session = await ort.InferenceSession.create(writeModel(model), { graphOptimizationLevel: 'all', optimizedModelFilePath: file });
  await session.release();
  const ops: Record<string, number> = {};
  for (const n of readModelFile(file).graph.nodes) {
    const key = n.domain && n.domain !== 'ai.onnx' ? `${n.domain}.${n.opType}` : n.opType;
    ops[key] = (ops[key] ?? 0) + 1;
  }
  return ops;
}

/** Integer kernels: QLinearConv, ConvInteger, MatMulInteger or com.microsoft QLinear* ops. */
export function integerKernelCount(ops: Record<string, number>): number {
  return Object.entries(ops)
    .filter(([op]) => /(^|\.)(QLinearConv|ConvInteger|MatMulInteger)$/.test(op) || /^com\.microsoft\.QLinear/.test(op))
    .reduce((s, [, n]) => s + n, 0);
}
