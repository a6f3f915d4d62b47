// The graph onnxruntime actually runs: a session with every graph
// optimization writes its optimized model (session option
// optimizedModelFilePath), which is read back as an edgefit Model. On the CPU
// execution provider that is where QDQ node units become QLinearConv,
// QLinearSigmoid, QLinearMul… (com.microsoft) and where NCHW convs become NHWC.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import ort from 'onnxruntime-node';
import type { Model } from './ir.js';
import { readModelFile } from './read.js';
import { writeModel } from './write.js';

export async function optimizedModel(model: Model | Uint8Array): Promise<Model> {
  const dir = mkdtempSync(path.join(tmpdir(), 'edgefit-optimized-'));
  try {
    const file = path.join(dir, 'optimized.onnx');
    const bytes = model instanceof Uint8Array ? model : writeModel(model);
    // One thread: the optimized graph does not depend on it, and a second spinning pool would only load the machine.
    // Errors only: onnxruntime warns on stderr that a graph with NHWC kernels is specific to this machine, which is the point here.
    const session = await ort.InferenceSession.create(bytes, { graphOptimizationLevel: 'all', optimizedModelFilePath: file, intraOpNumThreads: 1, interOpNumThreads: 1, logSeverityLevel: 3 });
    await session.release();
    return readModelFile(file);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
