// Cost model over the IR: parameters, FLOPs and weight bytes, per node and in
// total, at the model's own input size.
//
// Conventions (chosen so numbers line up with what Ultralytics prints):
// - `flops` = 2 × multiply-accumulates of convolutions (Conv, ConvInteger,
//   QLinearConv) and linear layers (Gemm, MatMul/MatMulInteger/QLinearMatMul
//   with a constant weight). This is Ultralytics' "GFLOPs" (thop MACs × 2):
//   bias additions are NOT included, nor are activations, pooling or resizes.
// - `matmulFlops` = 2 × MACs of MatMul between two activations (attention in
//   YOLO11's C2PSA). thop does not count these (they are functional calls,
//   not modules), so they are reported separately.
// - `elementwiseOps` = one op per output element of everything else that
//   computes (bias adds, activations, Q/DQ, pooling windows are counted once
//   per output element). Informative only; no speed model uses it yet.
// - `parameters` = elements of initializers consumed as weights or biases of
//   the ops above. A QDQ weight (int8 initializer → DequantizeLinear → Conv)
//   counts once, as its quantized initializer; scales and zero points are not
//   parameters. When a conv carries no bias input (ConvInteger from ONNX
//   Runtime's dynamic quantizer, some QLinearConv graphs) its bias lives on the
//   Add that follows (after the rescale Cast/Mul) and is counted there.
// - `weightBytes` = bytes of all initializers as stored (what the file costs).
import { numel, type Graph, type Model, type Node, type Tensor } from './onnx/ir.js';
import { consumers, constValue, producers } from './onnx/graph.js';
import { inferShapes, type ValueType } from './onnx/shapes.js';
import { tensorBytes } from './onnx/tensor.js';

export type CostKind = 'conv' | 'linear' | 'matmul' | 'elementwise' | 'none';

export interface NodeCost {
  name: string;
  opType: string;
  kind: CostKind;
  macs: number;
  /** 2 × macs for conv/linear (Ultralytics convention), 0 otherwise. */
  flops: number;
  matmulFlops: number;
  elementwiseOps: number;
  /** Weight and bias elements this node owns (each initializer counted once, at its first user). */
  parameters: number;
}

export interface ModelCost {
  nodes: NodeCost[];
  parameters: number;
  flops: number;
  gflops: number;
  matmulFlops: number;
  elementwiseOps: number;
  weightBytes: number;
  /** Nodes whose cost could not be computed because a shape was unknown. */
  unknownShapes: string[];
}

const CONV = new Set(['Conv', 'ConvInteger', 'QLinearConv', 'ConvTranspose']);
const MATMUL = new Set(['MatMul', 'MatMulInteger', 'QLinearMatMul', 'Gemm']);
/** Ops that move or reinterpret data without arithmetic. */
const FREE = new Set([
  'Constant', 'Identity', 'Reshape', 'Flatten', 'Squeeze', 'Unsqueeze', 'Transpose', 'Concat', 'QLinearConcat', 'Split', 'Slice', 'Gather',
  'Shape', 'Cast', 'Expand', 'Tile', 'ConstantOfShape', 'Range', 'Dropout',
]);

/** Where a weight-like input really comes from: through DQ, Cast, Identity, Transpose to a constant. */
export function weightSource(g: Graph, name: string, prod: Map<string, Node>): Tensor | undefined {
  const direct = constValue(g, name, prod);
  if (direct) return direct;
  const p = prod.get(name);
  if (p && ['DequantizeLinear', 'Cast', 'Identity', 'Transpose', 'Reshape', 'Unsqueeze'].includes(p.opType)) return weightSource(g, p.inputs[0], prod);
  return undefined;
}

function known(t: ValueType | undefined): number[] | undefined {
  return t && t.shape.every((d) => typeof d === 'number') ? (t.shape as number[]) : undefined;
}

/** Follows a bias-less conv through Cast/Mul rescaling to the Add that holds its bias. */
function trailingBias(g: Graph, n: Node, prod: Map<string, Node>, cons: Map<string, Node[]>): Tensor | undefined {
  let value = n.outputs[0];
  for (let hops = 0; hops < 4; hops++) {
    const next = cons.get(value);
    if (!next || next.length !== 1) return undefined;
    const c = next[0];
    if (c.opType === 'Add') {
      const other = c.inputs.find((i) => i !== value);
      return other ? weightSource(g, other, prod) : undefined;
    }
    if (c.opType !== 'Cast' && c.opType !== 'Mul') return undefined;
    value = c.outputs[0];
  }
  return undefined;
}

export function modelCost(model: Model, types: Map<string, ValueType> = inferShapes(model)): ModelCost {
  const g = model.graph;
  const prod = producers(g);
  const cons = consumers(g);
  const counted = new Set<Tensor>();
  const own = (t: Tensor | undefined): number => {
    if (!t || counted.has(t)) return 0;
    counted.add(t);
    return numel(t.dims);
  };
  const unknownShapes: string[] = [];
  const nodes = g.nodes.map((n): NodeCost => {
    const cost: NodeCost = { name: n.name, opType: n.opType, kind: 'none', macs: 0, flops: 0, matmulFlops: 0, elementwiseOps: 0, parameters: 0 };
    const out = known(types.get(n.outputs[0]));
    if (CONV.has(n.opType)) {
      // ConvInteger has no bias input (its inputs 2, 3 are zero points).
      const [wi, bi] = n.opType === 'QLinearConv' ? [3, 8] : n.opType === 'ConvInteger' ? [1, -1] : [1, 2];
      const w = known(types.get(n.inputs[wi]));
      cost.kind = 'conv';
      const bias = bi >= 0 ? n.inputs[bi] : undefined;
      cost.parameters = own(weightSource(g, n.inputs[wi], prod)) + (bias ? own(weightSource(g, bias, prod)) : 0);
      if (!bias) cost.parameters += own(trailingBias(g, n, prod, cons));
      if (!out || !w) unknownShapes.push(n.name || n.opType);
      else {
        // Weight is [Cout, Cin/group, k...]: every output element costs Cin/group · Πk MACs.
        // ConvTranspose weight is [Cin, Cout/group, k...]: each input element scatters Cout/group · Πk.
        cost.macs = n.opType === 'ConvTranspose' ? numel(known(types.get(n.inputs[0])) ?? [0]) * numel(w.slice(1)) : numel(out) * numel(w.slice(1));
      }
    } else if (MATMUL.has(n.opType)) {
      const [ai, bi] = n.opType === 'QLinearMatMul' ? [0, 3] : [0, 1];
      const a = known(types.get(n.inputs[ai]));
      const wA = weightSource(g, n.inputs[ai], prod), wB = weightSource(g, n.inputs[bi], prod);
      cost.kind = wA || wB ? 'linear' : 'matmul';
      cost.parameters = own(wA) + own(wB) + (n.opType === 'Gemm' && n.inputs[2] ? own(weightSource(g, n.inputs[2], prod)) : 0);
      if (!out || !a) unknownShapes.push(n.name || n.opType);
      else {
        const transA = n.opType === 'Gemm' && n.attributes.get('transA')?.value === 1;
        const k = transA ? a[a.length - 2] : a[a.length - 1];
        cost.macs = numel(out) * k;
      }
    } else if (!FREE.has(n.opType) && out) {
      cost.kind = 'elementwise';
      cost.elementwiseOps = numel(out);
    }
    if (cost.kind === 'matmul') cost.matmulFlops = 2 * cost.macs;
    else cost.flops = 2 * cost.macs;
    return cost;
  });
  const sum = (f: (c: NodeCost) => number) => nodes.reduce((s, c) => s + f(c), 0);
  const flops = sum((c) => c.flops);
  return {
    nodes,
    parameters: sum((c) => c.parameters),
    flops,
    gflops: flops / 1e9,
    matmulFlops: sum((c) => c.matmulFlops),
    elementwiseOps: sum((c) => c.elementwiseOps),
    weightBytes: [...g.initializers.values()].reduce((s, t) => s + tensorBytes(t), 0),
    unknownShapes,
  };
}
