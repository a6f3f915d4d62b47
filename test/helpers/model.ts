import type { Graph, Model } from '../../compress/onnx/ir.js';

/** A hand-built test graph wrapped as a model: IR 8, opset 17 unless given. */
export function testModel(graph: Graph, options: { opset?: number; metadata?: Map<string, string> } = {}): Model {
  return {
    irVersion: 8,
    opsetImports: [{ domain: '', version: options.opset ?? 17 }],
    producerName: 'edgefit-test',
    producerVersion: '0',
    domain: '',
    modelVersion: 1,
    docString: '',
    metadata: options.metadata ?? new Map(),
    graph,
  };
}
