// int8 model → float model, for compressing from a float baseline when only a
// quantized export exists. Two source formats:
// - QDQ (static): weight/bias DequantizeLinear on constants fold into float
//   initializers; activation QuantizeLinear → DequantizeLinear pairs are
//   bypassed. This recovers the float graph exactly up to weight rounding.
// - Dynamic (ONNX Runtime quantize_dynamic): DynamicQuantizeLinear →
//   ConvInteger → Cast → Mul(x_scale · w_scale) [→ Add(bias)] becomes one
//   float Conv with dequantized weights (and the bias folded in).
// QOperator graphs (QLinearConv) keep activations quantized between ops and are
// refused with a clear message.
import { DataType, intAttr, numel, type Graph, type Model, type Node, type Tensor } from './ir.js';
import { constValue, consumers, producers, removeDeadCode, renameValue, replaceAllUses, sortGraph, uniqueName } from './graph.js';
import { toFloat32 } from './tensor.js';
import { weightFormat } from './info.js';
import { addLineageStep } from '../lineage.js';
import { codedError } from '../../protocol/errors.js';

export class DequantizeError extends codedError('E_DEQUANTIZE') {
  override name = 'DequantizeError';
}

export interface DequantizeReport {
  source: 'qdq-int8' | 'dynamic-int8';
  foldedWeights: number;
  bypassedActivationPairs: number;
  rewrittenConvIntegers: number;
  nodesBefore: number;
  nodesAfter: number;
}

/** (q − zero_point) · scale, per tensor or along `axis` (per channel). */
export function dequantizeTensor(name: string, q: Tensor, scale: Tensor, zeroPoint: Tensor | undefined, axis: number): Tensor {
  const values = toFloat32(q);
  const s = toFloat32(scale);
  const zp = zeroPoint ? toFloat32(zeroPoint) : new Float32Array(s.length);
  const out = new Float32Array(values.length);
  if (s.length === 1) {
    for (let i = 0; i < values.length; i++) out[i] = (values[i] - zp[0]) * s[0];
  } else {
    const a = axis < 0 ? axis + q.dims.length : axis;
    if (q.dims[a] !== s.length) throw new DequantizeError(`scale of '${q.name}' has ${s.length} values but axis ${a} has ${q.dims[a]}`);
    const inner = numel(q.dims.slice(a + 1));
    for (let i = 0; i < values.length; i++) {
      const c = Math.floor(i / inner) % s.length;
      out[i] = (values[i] - zp[c]) * s[c];
    }
  }
  return { name, dataType: DataType.FLOAT, dims: [...q.dims], data: out };
}

function foldQdq(g: Graph, report: DequantizeReport): void {
  const prod = producers(g);
  const doomed = new Set<Node>();
  for (const n of g.nodes) {
    if (n.opType !== 'DequantizeLinear') continue;
    const q = constValue(g, n.inputs[0], prod);
    const scale = constValue(g, n.inputs[1], prod);
    const zp = n.inputs[2] ? constValue(g, n.inputs[2], prod) : undefined;
    if (q && scale && (!n.inputs[2] || zp)) {
      g.initializers.set(n.outputs[0], dequantizeTensor(n.outputs[0], q, scale, zp, intAttr(n, 'axis', 1)));
      doomed.add(n);
      report.foldedWeights++;
      continue;
    }
    const qn = prod.get(n.inputs[0]);
    if (qn?.opType === 'QuantizeLinear') {
      doomed.add(n);
      report.bypassedActivationPairs++;
    }
  }
  g.nodes = g.nodes.filter((n) => !doomed.has(n));
  for (const n of doomed) {
    if (g.initializers.has(n.outputs[0])) continue;
    const source = prod.get(n.inputs[0])!.inputs[0];
    rewire(g, n.outputs[0], source);
  }
}

/** Readers of `from` read `to`; a graph output keeps its name by renaming the source instead. */
function rewire(g: Graph, from: string, to: string): void {
  const isOutput = g.outputs.some((o) => o.name === from);
  const renamable = !g.inputs.some((i) => i.name === to) && !g.initializers.has(to);
  if (isOutput && renamable) renameValue(g, to, from);
  else replaceAllUses(g, from, to);
}

function rewriteConvIntegers(g: Graph, report: DequantizeReport): void {
  const prod = producers(g);
  const cons = consumers(g);
  const only = (value: string, op: string): Node | undefined => {
    const c = cons.get(value);
    return c && c.length === 1 && c[0].opType === op ? c[0] : undefined;
  };
  const doomed = new Set<Node>();
  const replacement = new Map<Node, Node>();
  for (const n of g.nodes) {
    if (n.opType !== 'ConvInteger') continue;
    const where = `ConvInteger '${n.name}'`;
    const dql = prod.get(n.inputs[0]);
    const wq = constValue(g, n.inputs[1], prod);
    const wzp = n.inputs[3] ? constValue(g, n.inputs[3], prod) : undefined;
    const cast = only(n.outputs[0], 'Cast');
    const mul = cast && only(cast.outputs[0], 'Mul');
    if (!dql || dql.opType !== 'DynamicQuantizeLinear' || !wq || !cast || !mul) {
      throw new DequantizeError(`${where} is not in the DynamicQuantizeLinear → ConvInteger → Cast → Mul pattern of ONNX Runtime's dynamic quantizer`);
    }
    // The rescale factor is Mul(x_scale, w_scale): the constant side is the weight scale.
    const scaleNode = prod.get(mul.inputs.find((i) => i !== cast.outputs[0]) ?? '');
    const wScale = scaleNode?.opType === 'Mul' ? scaleNode.inputs.map((i) => constValue(g, i, prod)).find((t) => t) : undefined;
    if (!wScale || !scaleNode!.inputs.includes(dql.outputs[1])) throw new DequantizeError(`${where}: cannot find the weight scale in its rescale Mul`);
    const weightName = uniqueName(g, `${n.inputs[1].replace(/_quantized$/, '')}_dequantized`);
    g.initializers.set(weightName, dequantizeTensor(weightName, wq, wScale, wzp, 0));
    const inputs = [dql.inputs[0], weightName];
    let output = mul.outputs[0];
    doomed.add(cast).add(mul);
    const add = only(mul.outputs[0], 'Add');
    const biasInput = add?.inputs.find((i) => i !== mul.outputs[0]);
    const bias = biasInput ? constValue(g, biasInput, prod) ?? reshapedConst(g, biasInput, prod) : undefined;
    if (add && bias && numel(bias.dims) === wq.dims[0]) {
      const biasName = uniqueName(g, `${weightName}_bias`);
      g.initializers.set(biasName, { name: biasName, dataType: DataType.FLOAT, dims: [wq.dims[0]], data: toFloat32(bias).slice() });
      inputs.push(biasName);
      output = add.outputs[0];
      doomed.add(add);
    }
    replacement.set(n, { name: n.name.replace(/_quant$/, '') || n.name, opType: 'Conv', domain: '', inputs, outputs: [output], attributes: new Map(n.attributes) });
    report.rewrittenConvIntegers++;
  }
  g.nodes = g.nodes.filter((n) => !doomed.has(n)).map((n) => replacement.get(n) ?? n);
}

function reshapedConst(g: Graph, name: string, prod: Map<string, Node>): Tensor | undefined {
  const p = prod.get(name);
  return p && (p.opType === 'Reshape' || p.opType === 'Unsqueeze') ? constValue(g, p.inputs[0], prod) : undefined;
}

export interface DequantizeOptions {
  /** sha256 of the file the model was read from: with it the copy gets a 'dequantize' lineage step. */
  baseSha256?: string;
}

/** A float copy of a QDQ or dynamic-int8 model (a 'dequantize' lineage step when the file's hash is given); the input model is not changed. */
export function dequantizeModel(input: Model, options: DequantizeOptions = {}): { model: Model; report: DequantizeReport } {
  const format = weightFormat(input);
  if (format === 'qoperator-int8') {
    throw new DequantizeError('QOperator models (QLinearConv and com.microsoft QLinear* ops) keep activations int8 between ops; only QDQ and dynamic int8 models can be dequantized');
  }
  if (format !== 'qdq-int8' && format !== 'dynamic-int8') throw new DequantizeError(`the model is not int8 (weight format: ${format}); nothing to dequantize`);
  const model = structuredClone(input);
  const g = model.graph;
  const report: DequantizeReport = { source: format, foldedWeights: 0, bypassedActivationPairs: 0, rewrittenConvIntegers: 0, nodesBefore: g.nodes.length, nodesAfter: 0 };
  if (format === 'dynamic-int8') rewriteConvIntegers(g, report);
  foldQdq(g, report);
  removeDeadCode(g);
  sortGraph(g);
  const left = g.nodes.filter((n) => ['QuantizeLinear', 'DequantizeLinear', 'DynamicQuantizeLinear', 'ConvInteger', 'MatMulInteger'].includes(n.opType));
  if (left.length) {
    throw new DequantizeError(`${left.length} quantization nodes could not be removed (first: ${left[0].opType} '${left[0].name}')`);
  }
  // Values now float: drop stale int8 value_info rather than mislead shape consumers.
  g.valueInfo = g.valueInfo.filter((v) => v.elemType !== DataType.UINT8 && v.elemType !== DataType.INT8 && v.elemType !== DataType.INT32);
  report.nodesAfter = g.nodes.length;
  // without the file's hash there is no honest base to name: the caller's own step records one
  if (options.baseSha256 !== undefined) {
    addLineageStep(model, options.baseSha256, 'dequantize', {
      from: report.source,
      foldedWeights: report.foldedWeights,
      bypassedActivationPairs: report.bypassedActivationPairs,
      rewrittenConvIntegers: report.rewrittenConvIntegers,
    });
  }
  return { model, report };
}
