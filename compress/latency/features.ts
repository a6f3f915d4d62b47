// What the latency predictor knows of a node before it runs: its kind (op
// type, precision, and for convs the kernel, depthwise and channel alignment)
// and a few shape features, all from the model file. nn-Meter's point is that
// a kernel's latency follows its shape within a kind, and that kinds differ:
// onnxruntime's CPU provider runs a conv whose channels are multiples of 16
// (AVX-512) or 8 (AVX2) in its blocked NCHWc layout, any other in plain NCHW
// with im2col, so a pruned conv with odd channel counts costs more per MAC.
// That is a feature of the conv's kind (its MACs again, counted only when the
// layout is plain), not a kind of its own: as separate kinds ('…/c16',
// '…/odd') the odd convs were fitted from the few odd-pruned members of the
// fit set alone (unseen MAPE 6.8%, in-sample 7.3%); as a feature they share
// the aligned convs' slope and the fit learns only the penalty (5.7%, 3.9%);
// with no odd term at all 5.4%, 5.5% (same measurements, --refit of
// bench/latency-predictor.bench.ts, CPU-time quartile, load 13): the term
// explains the fitted members and is neutral on the unseen within the noise.
import { modelCost } from '../cost.js';
import { producers } from '../onnx/graph.js';
import { DataType, intAttr, numel, type Model, type Node } from '../onnx/ir.js';
import { inferShapes, type ValueType } from '../onnx/shapes.js';

export type Precision = 'fp32' | 'fp16' | 'int8';

export interface NodeShape {
  node: string;
  op: string;
  /** Kind keys from the most specific to the most general ('Conv/fp32/3x3/dw', 'Conv/fp32/3x3', 'Conv/fp32', 'Conv'). */
  kinds: string[];
  /** Features, in the kind's order: Conv [MACs, output elements, input elements, weights, MACs if the channels leave the blocked layout else 0]; others [output elements, input elements]. */
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
      const dw = group > 1 && group === cin;
      const odd = !dw && !(cout % BLOCK === 0 && (cin < 8 || cin % BLOCK === 0));
      const macs = cost.get(n.name)?.macs ?? 0;
      const base = `Conv/${p}`;
      const kinds = dw ? [`${base}/${kernel}/dw`, `${base}/${kernel}`, base, 'Conv'] : [`${base}/${kernel}`, base, 'Conv'];
      out.push({ node: n.name, op: n.opType, kinds, x: [macs, outElems, inElems, numel(w), odd ? macs : 0] });
    } else {
      out.push({ node: n.name, op: n.opType, kinds: [`${n.opType}/${p}`, n.opType], x: [outElems, inElems] });
    }
  }
  return out;
}
