// What the latency predictor knows of a node before it runs: its kind (op
// type, precision, and for convs the kernel, depthwise and channel alignment)
// and a few shape features, all from the model file. nn-Meter's point is that
// a kernel's latency follows its shape within a kind, and that kinds differ:
// onnxruntime's CPU provider runs a conv whose channels are multiples of 16
// (AVX-512) or 8 (AVX2) in its blocked NCHWc layout, any other in plain NCHW
// with im2col, so a pruned conv with odd channel counts is another kind.
import { modelCost } from '../cost.js';
import { producers } from '../onnx/graph.js';
import { DataType, intAttr, numel, type Model, type Node } from '../onnx/ir.js';
import { inferShapes, type ValueType } from '../onnx/shapes.js';

export type Precision = 'fp32' | 'fp16' | 'int8';

export interface NodeShape {
  node: string;
  op: string;
  /** Kind keys from the most specific to the most general ('Conv/fp32/3x3/c16', 'Conv/fp32/3x3', 'Conv/fp32', 'Conv'). */
  kinds: string[];
  /** Features, in the kind's order: Conv [MACs, output elements, input elements, weights]; others [output elements, input elements]. */
  x: number[];
}

/** Channel alignment of the blocked layout; 16 covers both AVX-512's and AVX2's block (8). */
const BLOCK = 16;

const numelOf = (t: ValueType | undefined): number => (t && t.shape.every((d) => typeof d === 'number') ? numel(t.shape as number[]) : 0);

function precisionOf(n: Node, g: Model['graph'], prod: Map<string, Node>, types: Map<string, ValueType>): Precision {
  if (/^(QLinear|ConvInteger|MatMulInteger|DynamicQuantize)/.test(n.opType) || n.opType === 'QuantizeLinear' || n.opType === 'DequantizeLinear') return 'int8';
  // QDQ: an input that comes from DequantizeLinear is computed from integers
  if (n.inputs.some((i) => prod.get(i)?.opType === 'DequantizeLinear')) return 'int8';
  const out = types.get(n.outputs[0])?.elemType;
  const w = n.inputs[1] ? g.initializers.get(n.inputs[1]) : undefined;
  if (out === DataType.FLOAT16 || w?.dataType === DataType.FLOAT16) return 'fp16';
  return 'fp32';
}

/** Nodes computed from constants only (onnxruntime folds them at load: they never run). */
function constantNodes(model: Model): Set<Node> {
  const g = model.graph;
  const known = new Set<string>([...g.initializers.keys()].filter((k) => !g.inputs.some((i) => i.name === k)));
  const out = new Set<Node>();
  for (const n of g.nodes) {
    if (n.inputs.every((i) => i === '' || known.has(i))) {
      out.add(n);
      for (const o of n.outputs) known.add(o);
    }
  }
  return out;
}

/** The predictor's view of every node that runs (named, not folded). */
export function nodeShapes(model: Model): NodeShape[] {
  const g = model.graph;
  const types = inferShapes(model);
  const cost = new Map(modelCost(model, types).nodes.map((c) => [c.name, c]));
  const prod = producers(g);
  const folded = constantNodes(model);
  const out: NodeShape[] = [];
  for (const n of g.nodes) {
    if (!n.name || folded.has(n)) continue;
    const p = precisionOf(n, g, prod, types);
    const outElems = numelOf(types.get(n.outputs[0]));
    const inElems = numelOf(types.get(n.inputs[0]));
    if (n.opType === 'Conv' || n.opType === 'QLinearConv' || n.opType === 'ConvInteger') {
      const wName = n.inputs[n.opType === 'QLinearConv' ? 3 : 1];
      const w = types.get(wName)?.shape.filter((d): d is number => typeof d === 'number') ?? [];
      const group = intAttr(n, 'group', 1);
      const cout = w[0] ?? 0;
      const cin = (w[1] ?? 0) * group;
      const kernel = w.length >= 4 ? `${w[2]}x${w[3]}` : 'k?';
      const layout = group > 1 && group === cin ? 'dw' : cout % BLOCK === 0 && (cin < 8 || cin % BLOCK === 0) ? 'c16' : 'odd';
      const base = `Conv/${p}`;
      out.push({ node: n.name, op: n.opType, kinds: [`${base}/${kernel}/${layout}`, `${base}/${kernel}`, base, 'Conv'], x: [cost.get(n.name)?.macs ?? 0, outElems, inElems, numel(w)] });
    } else {
      out.push({ node: n.name, op: n.opType, kinds: [`${n.opType}/${p}`, n.opType], x: [outElems, inElems] });
    }
  }
  return out;
}
