// Time per node of the model as the user's file has it, from the time per node
// of onnxruntime's optimized graph (trace.ts). onnxruntime renames what it
// rewrites: a conv fused with its activation becomes 'fused <conv>', a conv in
// its blocked NCHWc layout is named after the conv's output value plus
// '_nchwc', a SiLU's Sigmoid and Mul become one QuickGelu named after the Mul
// plus '/QuickGeluFusion/', a clash gets '_token_N'; and nodes it adds have no
// counterpart at all (ReorderInput/ReorderOutput around NCHWc convs). A name
// that leads back to a model node (or to the value it produces) after
// stripping those marks is kept as that node's own time; one that does not is
// listed as unmapped and its time is attributed to the node it serves: a
// ReorderInput to the next mapped node (it feeds it), anything else to the
// previous mapped node (a ReorderOutput ends the conv before it).
import type { Node } from '../onnx/ir.js';
import type { TraceNode, TraceSummary } from './trace.js';

export interface NodeTime {
  /** The model's node name. */
  node: string;
  /** The model's op type. */
  op: string;
  /** Kernel time of the executed node(s) that map to it by name, µs per run. */
  ownUs: number;
  /** Time of unmapped executed nodes attributed to it, µs per run. */
  absorbedUs: number;
}

export interface UnmappedTime {
  name: string;
  op: string;
  us: number;
  /** The model node its time went to; null when the trace had no mapped node at all. */
  to: string | null;
}

export interface OpProfile {
  runs: number;
  warmupRuns: number;
  runUs: number;
  /** Sum of all kernel times per run, µs. */
  kernelUs: number;
  /** Every model node that executed or absorbed time, in execution order. */
  nodes: NodeTime[];
  unmapped: UnmappedTime[];
  /** Model nodes with no time of their own (folded away, or fused into another kernel). */
  absent: number;
}

// onnxruntime 1.30 (measured on a builder-made yolov8n): an NCHWc conv is named after the conv's
// output value ('/model.0/conv/Conv_output_0_nchwc'), a QuickGelu after the SiLU's Mul
// ('/model.0/act/Mul/QuickGeluFusion/'), added nodes 'ReorderOutput_token_239'. An fp16 model's nodes
// that the CPU provider has no fp16 kernel for run in float between inserted Casts, and both the node
// and the casts take the prefix 'InsertedPrecisionFreeCast_' ('InsertedPrecisionFreeCast_/model.0/conv/
// Conv_output_0_nchwc'): unmapped, all 64 convs of an fp16 yolov8n went to the per-model constant and
// fp16 at 640 was predicted 22% fast, at 416 21% slow (bench/latency-predictor.bench.ts).
const MARKS: Array<[RegExp, string]> = [
  [/^fused /, ''],
  [/^InsertedPrecisionFreeCast_/, ''],
  [/_token_\d+$/, ''],
  [/_nchwc$/, ''],
  [/\/[A-Za-z]+Fusion\/$/, ''],
];

/** The model node an optimized-graph name leads back to (by node name, or by the name of the value it produces), or undefined. */
export function modelNodeOf(name: string, names: ReadonlySet<string>, producerOf: ReadonlyMap<string, string> = new Map()): string | undefined {
  let current = name;
  for (let step = 0; step < 16; step++) {
    if (names.has(current)) return current;
    if (producerOf.has(current)) return producerOf.get(current);
    let next = current;
    for (const [mark, by] of MARKS) next = next.replace(mark, by);
    if (next === current) return undefined;
    current = next;
  }
  return undefined;
}

/** Maps a parsed trace onto the model's nodes (see the top of this file for the rule). */
export function mapTrace(trace: TraceSummary, modelNodes: ReadonlyArray<Pick<Node, 'name' | 'opType'> & { outputs?: readonly string[] }>): OpProfile {
  const names = new Set(modelNodes.map((n) => n.name).filter((n) => n !== ''));
  const producerOf = new Map<string, string>();
  for (const n of modelNodes) if (n.name) for (const o of n.outputs ?? []) producerOf.set(o, n.name);
  const opOf = new Map(modelNodes.map((n) => [n.name, n.opType]));
  const times = new Map<string, NodeTime>();
  const order: Array<{ trace: TraceNode; node: string | undefined }> = trace.nodes.map((t) => ({ trace: t, node: modelNodeOf(t.name, names, producerOf) }));
  const timeOf = (node: string): NodeTime => {
    let t = times.get(node);
    if (!t) times.set(node, (t = { node, op: opOf.get(node)!, ownUs: 0, absorbedUs: 0 }));
    return t;
  };
  for (const o of order) if (o.node !== undefined) timeOf(o.node).ownUs += o.trace.us;
  const unmapped: UnmappedTime[] = [];
  for (let i = 0; i < order.length; i++) {
    const o = order[i];
    if (o.node !== undefined) continue;
    const next = () => order.slice(i + 1).find((x) => x.node !== undefined)?.node;
    const previous = () => order.slice(0, i).reverse().find((x) => x.node !== undefined)?.node;
    const to = /^ReorderInput/.test(o.trace.op) || /^ReorderInput/.test(o.trace.name) ? (next() ?? previous()) : (previous() ?? next());
    if (to !== undefined) timeOf(to).absorbedUs += o.trace.us;
    unmapped.push({ name: o.trace.name, op: o.trace.op, us: o.trace.us, to: to ?? null });
  }
  const nodes = [...times.values()];
  const rank = new Map(order.map((o, i) => [o.node, i] as const).reverse());
  nodes.sort((a, b) => (rank.get(a.node) ?? 0) - (rank.get(b.node) ?? 0));
  return {
    runs: trace.runs,
    warmupRuns: trace.warmupRuns,
    runUs: trace.runUs,
    kernelUs: trace.nodes.reduce((s, n) => s + n.us, 0),
    nodes,
    unmapped,
    absent: names.size - nodes.filter((n) => n.ownUs > 0).length,
  };
}

/** A node's whole time: its own kernels and what was attributed to it. */
export const nodeUs = (t: Pick<NodeTime, 'ownUs' | 'absorbedUs'>): number => t.ownUs + t.absorbedUs;

/** The `n` nodes that take longest, longest first. */
export function topNodes<T extends { ownUs: number; absorbedUs: number }>(nodes: readonly T[], n: number): T[] {
  return [...nodes].sort((a, b) => nodeUs(b) - nodeUs(a)).slice(0, n);
}
