// Unstructured magnitude sparsity: the smallest |w| of all conv weights (one
// global threshold) become zero. Shapes do not change, so onnxruntime on CPU
// runs the dense kernels at the same speed; the gain is only a smaller
// compressed artifact to ship.
import { gzipSync } from 'node:zlib';
import { floatTensor, type Model } from '../onnx/ir.js';
import { constValue, producers } from '../onnx/graph.js';
import { toFloat32 } from '../onnx/tensor.js';
import { writeModel } from '../onnx/write.js';
import { weightFormat } from '../onnx/info.js';
import { PruneError } from './errors.js';

export interface SparsityReport {
  weights: number;
  zeroed: number;
  compressedBytes: { before: number; after: number };
  note: string;
}

export const SPARSITY_NOTE = 'Unstructured sparsity brings no speed-up on CPU (onnxruntime runs dense kernels on the same shapes); it only shrinks the compressed file.';

export function sparsify(input: Model, ratio: number): { model: Model; report: SparsityReport } {
  if (weightFormat(input) !== 'fp32') throw new PruneError('unstructured sparsity works on fp32 models (quantize after sparsifying)');
  const model = structuredClone(input);
  const g = model.graph;
  const prod = producers(g);
  const weights = [...new Set(g.nodes.filter((n) => n.opType === 'Conv' && constValue(g, n.inputs[1], prod)).map((n) => n.inputs[1]))];
  const arrays = weights.map((w) => toFloat32(constValue(g, w, prod)!).slice());
  const total = arrays.reduce((s, a) => s + a.length, 0);
  const magnitudes = new Float32Array(total);
  let k = 0;
  for (const a of arrays) for (let i = 0; i < a.length; i++) magnitudes[k++] = Math.abs(a[i]);
  magnitudes.sort();
  const cut = Math.floor(ratio * total);
  const threshold = cut > 0 ? magnitudes[cut - 1] : -1;
  let zeroed = 0;
  arrays.forEach((a, i) => {
    for (let j = 0; j < a.length; j++) {
      if (Math.abs(a[j]) <= threshold && zeroed < cut) {
        a[j] = 0;
        zeroed++;
      }
    }
    const t = constValue(g, weights[i], prod)!;
    g.initializers.set(weights[i], floatTensor(weights[i], [...t.dims], a));
  });
  return {
    model,
    report: { weights: total, zeroed, compressedBytes: { before: gzipSync(writeModel(input)).length, after: gzipSync(writeModel(model)).length }, note: SPARSITY_NOTE },
  };
}
