// What `edgefit model info` reports about a model: interface, provenance (producer, edgefit lineage),
// op histogram, cost and weight format, and (given onnxruntime's optimized form of it, see
// optimized.ts) which op types run in integer. Pure over the IR.
import { modelCost } from '../cost.js';
import { readLineage, type Lineage } from '../lineage.js';
import { DataType, intAttr, type Dim, type Model } from './ir.js';
import { detectorInputIssue } from './detector-input.js';
import { constValue, producers, topologicalOrder } from './graph.js';
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
  /** With `model info --optimized`: what onnxruntime's CPU provider runs after its graph optimizations. */
  onnxruntime?: RuntimeOps;
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

/** The op key model info counts by: `Conv`, or `com.microsoft.QLinearConv` outside the default domain. */
export function opKey(n: { domain: string; opType: string }): string {
  return n.domain && n.domain !== 'ai.onnx' ? `${n.domain}.${n.opType}` : n.opType;
}

/**
 * What a node of an optimized graph computes in: 'integer' for 8-bit kernels
 * (QLinear*, ConvInteger, MatMulInteger) and for ops that move uint8/int8
 * data (Split, MaxPool, Resize, Transpose… on quantized tensors), 'convert'
 * for QuantizeLinear / DequantizeLinear between float and integer, 'float'
 * for float32/16 compute, 'other' for shape arithmetic on int64 and the like.
 */
export type RuntimePrecision = 'integer' | 'float' | 'convert' | 'other';

export interface RuntimeOps {
  nodes: number;
  /** Per precision, op key → count, most frequent first. */
  byPrecision: Record<RuntimePrecision, Record<string, number>>;
}

const INTEGER_KERNEL = /^(QLinear\w+|ConvInteger|MatMulInteger\w*|QGemm|QAttention|DynamicQuantizeMatMul)$/;
const CONVERT = new Set(['QuantizeLinear', 'DequantizeLinear', 'DynamicQuantizeLinear']);
const INTEGER_TYPES = new Set<number>([DataType.UINT8, DataType.INT8]);
const FLOAT_TYPES = new Set<number>([DataType.FLOAT, DataType.FLOAT16, DataType.DOUBLE, DataType.BFLOAT16]);

/**
 * Element types of a runtime-optimized graph's values. onnxruntime saves no
 * value_info for intermediates, and its contrib ops are unknown to shape
 * inference, so types flow forward from the ops' definitions: a Q/QLinear op
 * writes its zero point's type, DequantizeLinear float, Cast its 'to', Shape
 * int64, and any other op its first typed input's type.
 */
function elementTypes(g: Model['graph']): Map<string, number> {
  const types = new Map<string, number>();
  for (const v of [...g.inputs, ...g.outputs, ...g.valueInfo]) if (v.elemType) types.set(v.name, v.elemType);
  for (const t of g.initializers.values()) types.set(t.name, t.dataType);
  for (const n of topologicalOrder(g)) {
    const inputTypes = n.inputs.map((i) => (i ? types.get(i) : undefined));
    let type: number | undefined;
    if (n.opType === 'DequantizeLinear') type = DataType.FLOAT;
    else if (n.opType === 'QuantizeLinear') type = inputTypes[2] ?? DataType.UINT8;
    else if (INTEGER_KERNEL.test(n.opType)) type = inputTypes.find((t) => t !== undefined && INTEGER_TYPES.has(t));
    else if (n.opType === 'Cast') type = intAttr(n, 'to', 0) || undefined;
    else if (n.opType === 'Shape' || n.opType === 'Size') type = DataType.INT64;
    else type = inputTypes.find((t) => t !== undefined);
    if (type === undefined) continue;
    for (const o of n.outputs) if (o && !types.has(o)) types.set(o, type);
  }
  return types;
}

/** Per op type, how many nodes of a (runtime-optimized) graph run in integer, in float, or convert between them. */
export function runtimeOps(optimized: Model): RuntimeOps {
  const g = optimized.graph;
  const types = elementTypes(g);
  const byPrecision: RuntimeOps['byPrecision'] = { integer: {}, float: {}, convert: {}, other: {} };
  for (const n of g.nodes) {
    const type = types.get(n.outputs[0]) ?? types.get(n.inputs[0]);
    const precision: RuntimePrecision = CONVERT.has(n.opType)
      ? 'convert'
      : INTEGER_KERNEL.test(n.opType) || (type !== undefined && INTEGER_TYPES.has(type))
        ? 'integer'
        : type === undefined || FLOAT_TYPES.has(type)
          ? 'float'
          : 'other';
    const counts = byPrecision[precision];
    counts[opKey(n)] = (counts[opKey(n)] ?? 0) + 1;
  }
  for (const p of Object.keys(byPrecision) as RuntimePrecision[]) byPrecision[p] = sortCounts(byPrecision[p]);
  return { nodes: g.nodes.length, byPrecision };
}

function sortCounts(counts: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(counts).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])));
}

export function modelInfo(model: Model): ModelInfo {
  const types = inferShapes(model);
  const cost = modelCost(model, types);
  const ops: Record<string, number> = {};
  for (const n of model.graph.nodes) ops[opKey(n)] = (ops[opKey(n)] ?? 0) + 1;
  const sortedOps = sortCounts(ops);
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
