// Which convolutions become int8 and which activation tensors need ranges.
// The detection head's output convs (the box/class 1x1 convs and the DFL
// expectation) have no SiLU after them: their outputs are box distributions
// and class logits whose int8 rounding costs far more accuracy than the convs
// cost time, so they stay float unless asked otherwise.
import type { Graph, Model, Node } from '../onnx/ir.js';
import { constValue, consumers, producers } from '../onnx/graph.js';
import { DataType } from '../onnx/ir.js';

export interface QuantizationPlan {
  /** Convs to run as QLinearConv: input and weight via DequantizeLinear, output via QuantizeLinear. */
  convs: Node[];
  kept: { node: string; reason: string }[];
  /** Float activations that get a QuantizeLinear → DequantizeLinear pair. */
  activations: string[];
}

export interface PlanOptions {
  /** Regular expressions on node names; matching convs stay float. */
  exclude?: readonly RegExp[];
  /** Quantize the head's output convs too (default false). */
  quantizeHeadOutputs?: boolean;
}

/** A conv whose output is not followed by SiLU (Sigmoid · x): the head's box/class outputs and the DFL. */
export function isLinearOutputConv(g: Graph, conv: Node, cons: Map<string, Node[]> = consumers(g)): boolean {
  const readers = cons.get(conv.outputs[0]) ?? [];
  return !readers.some((r) => r.opType === 'Sigmoid' || r.opType === 'Relu' || r.opType === 'LeakyRelu' || r.opType === 'HardSwish');
}

export function planQuantization(model: Model, options: PlanOptions = {}): QuantizationPlan {
  const g = model.graph;
  const prod = producers(g);
  const cons = consumers(g);
  const outputs = new Set(g.outputs.map((o) => o.name));
  const convs: Node[] = [];
  const kept: QuantizationPlan['kept'] = [];
  for (const n of g.nodes) {
    if (n.opType !== 'Conv' || (n.domain !== '' && n.domain !== 'ai.onnx')) continue;
    const w = constValue(g, n.inputs[1], prod);
    const b = n.inputs[2] ? constValue(g, n.inputs[2], prod) : undefined;
    if (!w || w.dataType !== DataType.FLOAT || (n.inputs[2] && (!b || b.dataType !== DataType.FLOAT))) {
      kept.push({ node: n.name, reason: 'weight or bias is not a float constant' });
    } else if (options.exclude?.some((re) => re.test(n.name))) {
      kept.push({ node: n.name, reason: 'excluded by pattern' });
    } else if (!options.quantizeHeadOutputs && isLinearOutputConv(g, n, cons)) {
      kept.push({ node: n.name, reason: 'detection head output (box/class logits or DFL), kept float' });
    } else {
      convs.push(n);
    }
  }
  const activations: string[] = [];
  const seen = new Set<string>();
  const add = (name: string) => {
    if (seen.has(name) || outputs.has(name) || constValue(g, name, prod)) return;
    seen.add(name);
    activations.push(name);
  };
  for (const c of convs) {
    add(c.inputs[0]);
    add(c.outputs[0]);
  }
  return { convs, kept, activations };
}
