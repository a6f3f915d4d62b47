// What `edgefit model info` reports about a model: interface, provenance (producer, edgefit lineage),
// op histogram, cost and weight format. Pure over the IR.
import { modelCost } from '../cost.js';
import { readLineage, type Lineage } from '../lineage.js';
import { DataType, type Dim, type Model } from './ir.js';
import { detectorInputIssue } from './detector-input.js';
import { constValue, producers } from './graph.js';
import { inferShapes } from './shapes.js';
import { dataTypeName } from './tensor.js';
import { ultralyticsMetadata, type UltralyticsMetadata } from './metadata.js';

export type WeightFormat = 'fp32' | 'fp16' | 'qdq-int8' | 'dynamic-int8' | 'qoperator-int8' | 'unknown';

export const weightFormatLabel: Record<WeightFormat, string> = {
  'fp32': 'fp32',
  'fp16': 'fp16',
  'qdq-int8': 'QDQ int8 (static, QuantizeLinear/DequantizeLinear)',
  'dynamic-int8': 'dynamic int8 (ConvInteger + DynamicQuantizeLinear)',
  'qoperator-int8': 'QOperator int8 (static, QLinearConv)',
  'unknown': 'unknown (no conv or linear weights)',
};

export interface TensorSummary {
  name: string;
  type: string;
  shape: Dim[] | null;
}

export interface ModelInfo {
  irVersion: number;
  opsets: Record<string, number>;
  producer: string;
  inputs: TensorSummary[];
  outputs: TensorSummary[];
  nodes: number;
  ops: Record<string, number>;
  parameters: number;
  flops: number;
  gflops: number;
  matmulFlops: number;
  weightBytes: number;
  weightFormat: WeightFormat;
  ultralytics: UltralyticsMetadata;
  /** The `edgefit.lineage` metadata: base file hash and every edgefit step since; null when absent or unreadable. */
  lineage: Lineage | null;
  /**
   * Whether `detect`, `profile` and an agent can run it as a detector, by the
   * same rule they apply to its input (compress/onnx/detector-input.ts);
   * whether onnxruntime then loads it is known only by loading it.
   */
  runnable: { ok: true } | { ok: false; reason: string };
}

/** How the conv/linear weights are stored, which decides how the model can be compressed further. */
export function weightFormat(model: Model): WeightFormat {
  const g = model.graph;
  const ops = new Set(g.nodes.map((n) => n.opType));
  if (ops.has('QLinearConv') || ops.has('QLinearMatMul')) return 'qoperator-int8';
  if (ops.has('ConvInteger') || ops.has('MatMulInteger')) return 'dynamic-int8';
  const prod = producers(g);
  let fp32 = 0, fp16 = 0, qdq = 0;
  for (const n of g.nodes) {
    if (n.opType !== 'Conv' && n.opType !== 'Gemm' && n.opType !== 'MatMul') continue;
    for (const input of n.inputs.slice(0, 2)) {
      const p = prod.get(input);
      if (p?.opType === 'DequantizeLinear' && constValue(g, p.inputs[0], prod)) qdq++;
      const t = constValue(g, input, prod) ?? (p?.opType === 'Cast' ? constValue(g, p.inputs[0], prod) : undefined);
      if (t?.dataType === DataType.FLOAT) fp32++;
      if (t?.dataType === DataType.FLOAT16) fp16++;
    }
  }
  if (qdq > 0) return 'qdq-int8';
  if (fp16 > fp32) return 'fp16';
  if (fp32 > 0) return 'fp32';
  return 'unknown';
}

export function modelInfo(model: Model): ModelInfo {
  const types = inferShapes(model);
  const cost = modelCost(model, types);
  const ops: Record<string, number> = {};
  for (const n of model.graph.nodes) {
    const key = n.domain && n.domain !== 'ai.onnx' ? `${n.domain}.${n.opType}` : n.opType;
    ops[key] = (ops[key] ?? 0) + 1;
  }
  const sortedOps = Object.fromEntries(Object.entries(ops).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])));
  const initializerNames = new Set(model.graph.initializers.keys());
  const summary = (v: { name: string; elemType: number; shape: Dim[] | null }): TensorSummary => ({
    name: v.name,
    type: dataTypeName(v.elemType),
    shape: v.shape ?? types.get(v.name)?.shape ?? null,
  });
  // Old exporters list initializers among graph inputs; they are not inputs a caller feeds.
  const inputs = model.graph.inputs.filter((v) => !initializerNames.has(v.name)).map(summary);
  const issue = detectorInputIssue(inputs);
  return {
    irVersion: model.irVersion,
    opsets: Object.fromEntries(model.opsetImports.map((o) => [o.domain || 'ai.onnx', o.version])),
    producer: [model.producerName, model.producerVersion].filter(Boolean).join(' '),
    inputs,
    outputs: model.graph.outputs.map(summary),
    nodes: model.graph.nodes.length,
    ops: sortedOps,
    parameters: cost.parameters,
    flops: cost.flops,
    gflops: cost.gflops,
    matmulFlops: cost.matmulFlops,
    weightBytes: cost.weightBytes,
    weightFormat: weightFormat(model),
    ultralytics: ultralyticsMetadata(model),
    lineage: readLineage(model),
    runnable: issue === undefined ? { ok: true } : { ok: false, reason: issue },
  };
}
