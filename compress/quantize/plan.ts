// Which nodes run in integer and which activation tensors get a
// QuantizeLinear → DequantizeLinear pair, with where each tensor's range comes
// from. onnxruntime (1.30, CPU EP) fuses a node into an integer kernel when
// every activation input comes through its own DequantizeLinear and every
// output goes only into a QuantizeLinear (qdq_selectors.cc, CheckQDQNodes):
//   Conv → QLinearConv, Sigmoid → QLinearSigmoid, Mul / Add → QLinearMul /
//   QLinearAdd, Concat → QLinearConcat; Split, MaxPool (opset ≥ 12) and Resize
//   lose their Q/DQ and move uint8 data, but only when the output's scale and
//   zero point equal the input's (SplitSelector, DropQDQNodesSelector).
// Quantizing only the convs (scope 'convs', the earlier form) left every SiLU,
// Concat, Split and residual Add of yolov8n in float with 132 DQ and 52 Q
// converting around them: 0.74-0.76x fp32 with one thread.
//
// The detection head's read-out convs (the box/class 1x1 convs and the DFL
// expectation) have no activation after them, and everything downstream of
// them (DFL softmax, box decode, class sigmoid) stays float. By default
// (readOut 'logits') the six box/class logit convs run in integer and the DFL
// expectation stays float: its output is the box side itself, in strides, so
// its rounding would move every box edge. On yolov8n 640 (bench/quantize.bench.ts)
// the seven float read-outs with their NCHWc reorders were the largest float
// cost left; class logits take a fixed range from the score floor
// (CLASS_LOGIT_RANGE), since calibrating them on 4 images capped stride 8's
// scores at 0.5.
import type { Graph, Model, Node } from '../onnx/ir.js';
import { constValue, consumers, producers, topologicalOrder } from '../onnx/graph.js';
import { DataType, isDefaultDomain } from '../onnx/ir.js';
import { inferShapes, opsetVersion } from '../onnx/shapes.js';
import { CLASS_LOGIT_RANGE, type RangeSource } from './ranges.js';
import { isClassLogitConv, isLinearOutputConv, isProbability, stemNodes } from './node-roles.js';

/** 'all': every quantizable op between the image and the head's outputs; 'convs': only Conv (the earlier form). */
export type IntegerScope = 'all' | 'convs';

export interface QuantizationPlan {
  /** Convs to run as QLinearConv: input and weight via DequantizeLinear, output via QuantizeLinear. */
  convs: Node[];
  kept: { node: string; reason: string }[];
  /** Other nodes that run on quantized inputs and outputs (fused into QLinear* kernels or moving uint8 data). */
  ops: Node[];
  /** Float activations that get a QuantizeLinear → DequantizeLinear pair, in graph order. */
  activations: string[];
  sources: Map<string, RangeSource>;
}

/**
 * 'logits': the box and class logit convs in integer, the DFL expectation
 * float; 'float': all seven read-outs float (the earlier default); 'all': the
 * DFL expectation in integer too.
 */
export type ReadOutPlan = 'logits' | 'float' | 'all';

export interface PlanOptions {
  /** Regular expressions on node names; matching nodes stay float. */
  exclude?: readonly RegExp[];
  /** Which head read-out convs run in integer (default 'logits'). */
  readOut?: ReadOutPlan;
  /** Default 'all'. */
  scope?: IntegerScope;
  /** Whether the stem (stemNodes) runs in integer; default 'float'. */
  stem?: StemPlan;
}

/**
 * 'float' (default): the stem conv on the image and its activation stay
 * float; 'integer': they run in integer like the rest. Measured on yolov8n 640
 * with one thread (Intel Xeon, AVX-512 VNNI, onnxruntime 1.30): the integer stem
 * conv took 3.11 ms where the float one takes 1.48 ms (3 input channels give
 * the integer kernel 27-long dot products), and quantizing the image took
 * another 0.60 ms; the whole int8 model went 34.7 → 32.8 ms (0.505 → 0.477×
 * fp32, five interleaved rounds) at held-out fidelity 0.994 → 0.993.
 */
export type StemPlan = 'float' | 'integer';


/** Nodes reachable from `starts`' outputs (not `starts` themselves). */
function downstreamOf(starts: readonly Node[], cons: Map<string, Node[]>): Set<Node> {
  const seen = new Set<Node>();
  const queue = [...starts];
  while (queue.length > 0) {
    const n = queue.pop()!;
    for (const o of n.outputs) {
      for (const r of cons.get(o) ?? []) {
        if (seen.has(r)) continue;
        seen.add(r);
        queue.push(r);
      }
    }
  }
  return seen;
}

/**
 * The non-conv ops that run in integer when their activation inputs are
 * float tensors of the graph (not constants) and they write no graph output.
 * Returns where the outputs' ranges come from, or undefined when the node stays float.
 */
function integerOutputRange(n: Node, activationInputs: string[], opset: number): RangeSource | undefined {
  if (!isDefaultDomain(n.domain) || n.outputs.some((o) => o === '')) return undefined;
  const only = activationInputs.length === 1 ? activationInputs[0] : undefined;
  switch (n.opType) {
    case 'Sigmoid':
      return only ? ({ kind: 'sigmoid-of', tensor: only }) : undefined;
    case 'Mul':
    case 'Add':
      // QLinearMul / QLinearAdd take two quantized inputs; a constant operand (the box decode's strides) stays float.
      return activationInputs.length === 2 && n.inputs.length === 2 ? ({ kind: 'calibrated' }) : undefined;
    case 'Concat':
      return activationInputs.length === n.inputs.length ? ({ kind: 'hull-of', tensors: activationInputs }) : undefined;
    case 'Split':
      return only === n.inputs[0] ? ({ kind: 'same-as', tensor: only }) : undefined;
    case 'MaxPool':
      // uint8 MaxPool exists from opset 12; a second (indices) output has no integer form.
      return only === n.inputs[0] && opset >= 12 && n.outputs.length === 1 ? ({ kind: 'same-as', tensor: only }) : undefined;
    case 'Resize':
    // onnxruntime drops the Q/DQ around these too (DropQDQNodesRules): a grouped factorization's channel Gathers.
    case 'Gather':
    case 'Reshape':
    case 'Transpose':
    case 'Squeeze':
    case 'Unsqueeze':
    case 'Flatten':
    case 'Slice':
      return only === n.inputs[0] ? ({ kind: 'same-as', tensor: only }) : undefined;
    default:
      return undefined;
  }
}

export function planQuantization(model: Model, options: PlanOptions = {}): QuantizationPlan {
  const g = model.graph;
  const scope = options.scope ?? 'all';
  const readOut = options.readOut ?? 'logits';
  const prod = producers(g);
  const cons = consumers(g);
  const outputs = new Set(g.outputs.map((o) => o.name));
  const excluded = (n: Node) => options.exclude?.some((re) => re.test(n.name)) ?? false;
  const stem = (options.stem ?? 'float') === 'float' ? stemNodes(g, prod, cons) : new Set<Node>();
  const convs: Node[] = [];
  const kept: QuantizationPlan['kept'] = [];
  const headOutputs: Node[] = [];
  for (const n of g.nodes) {
    if (n.opType !== 'Conv' || !isDefaultDomain(n.domain)) continue;
    const linear = isLinearOutputConv(g, n, cons);
    if (linear) headOutputs.push(n);
    const w = constValue(g, n.inputs[1], prod);
    const b = n.inputs[2] ? constValue(g, n.inputs[2], prod) : undefined;
    if (!w || w.dataType !== DataType.FLOAT || (n.inputs[2] && (!b || b.dataType !== DataType.FLOAT))) {
      kept.push({ node: n.name, reason: 'weight or bias is not a float constant' });
    } else if (excluded(n)) {
      kept.push({ node: n.name, reason: 'excluded by pattern' });
    } else if (stem.has(n)) {
      kept.push({ node: n.name, reason: 'stem conv on the image, with its activation: faster in float (few input channels), and the image needs no QuantizeLinear' });
    } else if (linear && readOut === 'float') {
      kept.push({ node: n.name, reason: 'detection head read-out (box/class logits or DFL), kept float' });
    } else if (linear && readOut === 'logits' && isProbability(n.inputs[0], prod)) {
      kept.push({ node: n.name, reason: 'DFL expectation (its output is the box side), kept float' });
    } else if (outputs.has(n.outputs[0])) {
      // onnxruntime fuses a QDQ conv only when its output goes into a QuantizeLinear
      kept.push({ node: n.name, reason: 'writes a graph output (an integer conv needs a quantized output)' });
    } else {
      convs.push(n);
    }
  }

  const sources = new Map<string, RangeSource>();
  const activations: string[] = [];
  const add = (name: string, source: RangeSource) => {
    if (sources.has(name) || outputs.has(name) || constValue(g, name, prod)) return;
    sources.set(name, source);
    activations.push(name);
  };
  const ops: Node[] = [];
  const types = inferShapes(model);
  const shape = (name: string) => {
    const dims = types.get(name)?.shape;
    return dims && dims.every((d): d is number => typeof d === 'number') ? dims : undefined;
  };
  const outputRange = (c: Node): RangeSource => (isClassLogitConv(g, c, shape, cons) ? { kind: 'fixed', range: CLASS_LOGIT_RANGE } : { kind: 'calibrated' });
  if (scope === 'convs') {
    for (const c of convs) {
      add(c.inputs[0], { kind: 'calibrated' });
      add(c.outputs[0], outputRange(c));
    }
    return { convs, kept, ops, activations: sortByGraph(g, activations), sources };
  }

  const opset = opsetVersion(model, '');
  const tail = downstreamOf(headOutputs, cons);
  const isFloat = (name: string) => types.get(name)?.elemType === DataType.FLOAT;
  const convSet = new Set(convs);
  // In dependency order a derived range's source tensor is planned before it.
  for (const n of topologicalOrder(g)) {
    if (convSet.has(n)) {
      add(n.inputs[0], isProbability(n.inputs[0], prod) ? { kind: 'fixed', range: { min: 0, max: 1 } } : { kind: 'calibrated' });
      add(n.outputs[0], outputRange(n));
      continue;
    }
    if (tail.has(n) || excluded(n) || stem.has(n) || n.outputs.some((o) => outputs.has(o))) continue;
    const activationInputs = n.inputs.filter((i) => i !== '' && !constValue(g, i, prod));
    if (!activationInputs.every(isFloat) || !n.outputs.every(isFloat)) continue;
    const range = integerOutputRange(n, activationInputs, opset);
    if (!range) continue;
    ops.push(n);
    for (const i of activationInputs) add(i, { kind: 'calibrated' });
    for (const o of n.outputs) add(o, range);
  }
  return { convs, kept, ops, activations: sortByGraph(g, activations), sources };
}

/** Tensors in the order their producers run (graph inputs first), so derived ranges follow their sources. */
function sortByGraph(g: Graph, names: string[]): string[] {
  const order = new Map<string, number>();
  g.inputs.forEach((v) => order.set(v.name, -1));
  topologicalOrder(g).forEach((n, i) => n.outputs.forEach((o) => order.set(o, i)));
  return [...names].sort((a, b) => (order.get(a) ?? -1) - (order.get(b) ?? -1));
}

/** The op types of the plan's integer nodes, counted: what onnxruntime should fuse. */
export function integerOpCounts(plan: QuantizationPlan): Record<string, number> {
  const counts: Record<string, number> = { Conv: plan.convs.length };
  for (const n of plan.ops) counts[n.opType] = (counts[n.opType] ?? 0) + 1;
  return counts;
}
