// Rewrites a float graph into QDQ form from a plan and activation ranges, in
// the shape onnxruntime's QDQ transformer fuses into integer kernels: every
// planned activation gets one QuantizeLinear after its producer and one
// DequantizeLinear per reader (so Sigmoid, Mul, Add, Concat, Split, MaxPool
// and Resize between quantized tensors form node units). For each
// planned Conv the input comes through DequantizeLinear, the weight is an int8
// constant behind DequantizeLinear, the bias an int32 constant (scale = input
// scale · weight scale) behind DequantizeLinear, and the output goes straight
// into QuantizeLinear. Every consumer gets its own DequantizeLinear, which
// ORT's node-unit selection requires (a shared DQ would belong to two units).
import { DataType, numel, type Graph, type Node, type Tensor } from '../onnx/ir.js';
import { constValue, consumers, producers, uniqueName } from '../onnx/graph.js';
import { toFloat32 } from '../onnx/tensor.js';
import { int8Params, uint8Params, type QuantParams, type Range } from './ranges.js';

export type ActivationType = 'uint8' | 'int8';

export interface QdqOptions {
  perChannel: boolean;
  activationType: ActivationType;
}

export interface QuantizedTensor {
  name: string;
  scale: number;
  zeroPoint: number;
}

/** Symmetric int8 weights, one scale per output channel (axis 0) or one for the tensor. */
export function quantizeWeight(w: Tensor, perChannel: boolean): { q: Int8Array; scales: Float32Array } {
  const values = toFloat32(w);
  const channels = perChannel ? w.dims[0] : 1;
  const inner = values.length / channels;
  const scales = new Float32Array(channels);
  const q = new Int8Array(values.length);
  for (let c = 0; c < channels; c++) {
    let m = 0;
    for (let i = c * inner; i < (c + 1) * inner; i++) m = Math.max(m, Math.abs(values[i]));
    const s = m > 0 ? m / 127 : 1;
    scales[c] = s;
    for (let i = c * inner; i < (c + 1) * inner; i++) q[i] = Math.max(-127, Math.min(127, Math.round(values[i] / s)));
  }
  return { q, scales };
}

/** int32 bias at scale inputScale · weightScale[c]. */
export function quantizeBias(b: Tensor, inputScale: number, weightScales: Float32Array): { q: Int32Array; scales: Float32Array } {
  const values = toFloat32(b);
  const scales = new Float32Array(values.length);
  const q = new Int32Array(values.length);
  for (let c = 0; c < values.length; c++) {
    const s = inputScale * weightScales[weightScales.length === 1 ? 0 : c];
    scales[c] = s;
    q[c] = Math.max(-(2 ** 31), Math.min(2 ** 31 - 1, Math.round(values[c] / s)));
  }
  return { q, scales };
}

class QdqWriter {
  constructor(private readonly g: Graph) {}

  constant(base: string, dataType: Tensor['dataType'], dims: number[], data: Tensor['data']): string {
    const name = uniqueName(this.g, base);
    this.g.initializers.set(name, { name, dataType, dims, data });
    return name;
  }

  node(opType: string, inputs: string[], outputBase: string, axis?: number): { node: Node; output: string } {
    const output = uniqueName(this.g, outputBase);
    const node: Node = { name: output, opType, domain: '', inputs, outputs: [output], attributes: new Map() };
    if (axis !== undefined) node.attributes.set('axis', { type: 'int', value: axis });
    // Registered at once so uniqueName sees the output name.
    this.g.nodes.push(node);
    return { node, output };
  }
}

function zeroPointTensor(type: ActivationType, zp: number): { dataType: Tensor['dataType']; data: Tensor['data'] } {
  return type === 'uint8'
    ? { dataType: DataType.UINT8, data: Uint8Array.of(zp) }
    : { dataType: DataType.INT8, data: Int8Array.of(zp) };
}

/**
 * Applies QDQ to `g` in place. Returns the quantization parameters used per
 * activation. The caller sorts the graph afterwards.
 */
export function insertQdq(g: Graph, convs: readonly Node[], activations: readonly string[], ranges: Map<string, Range>, options: QdqOptions): QuantizedTensor[] {
  const writer = new QdqWriter(g);
  const prod = producers(g);
  const cons = consumers(g);
  const params = new Map<string, QuantParams>();
  const report: QuantizedTensor[] = [];
  // Read before the activation pass points conv inputs at their DequantizeLinear.
  const convInputs = new Map(convs.map((c) => [c, c.inputs[0]]));

  for (const name of activations) {
    const range = ranges.get(name);
    if (!range) throw new Error(`no calibration range for '${name}'`);
    const p = options.activationType === 'uint8' ? uint8Params(range) : int8Params(range);
    params.set(name, p);
    report.push({ name, ...p });
    const readers = cons.get(name) ?? [];
    const scale = writer.constant(`${name}_scale`, DataType.FLOAT, [], Float32Array.of(p.scale));
    const zpt = zeroPointTensor(options.activationType, p.zeroPoint);
    const zp = writer.constant(`${name}_zero_point`, zpt.dataType, [], zpt.data);
    const q = writer.node('QuantizeLinear', [name, scale, zp], `${name}_QuantizeLinear`);
    // One DequantizeLinear per reading slot: Mul(x, x) needs two, one for each input of its node unit.
    for (const reader of readers) {
      reader.inputs = reader.inputs.map((i) => (i === name ? writer.node('DequantizeLinear', [q.output, scale, zp], `${name}_DequantizeLinear`).output : i));
    }
  }

  for (const conv of convs) {
    const inputParams = params.get(convInputs.get(conv)!);
    if (!inputParams) throw new Error(`conv '${conv.name}' input '${convInputs.get(conv)}' has no quantization parameters`);
    const w = constValue(g, conv.inputs[1], prod)!;
    const wq = quantizeWeight(w, options.perChannel);
    const axis = options.perChannel ? 0 : undefined;
    const scaleDims = options.perChannel ? [w.dims[0]] : [];
    const wName = conv.inputs[1];
    const qName = writer.constant(`${wName}_quantized`, DataType.INT8, [...w.dims], wq.q);
    const wScale = writer.constant(`${wName}_scale`, DataType.FLOAT, scaleDims, wq.scales);
    const wZp = writer.constant(`${wName}_zero_point`, DataType.INT8, scaleDims, new Int8Array(wq.scales.length));
    conv.inputs[1] = writer.node('DequantizeLinear', [qName, wScale, wZp], `${wName}_DequantizeLinear`, axis).output;
    if (conv.inputs[2]) {
      const b = constValue(g, conv.inputs[2], prod)!;
      const bq = quantizeBias(b, inputParams.scale, wq.scales);
      const bName = conv.inputs[2];
      const perChannelBias = options.perChannel;
      const bqName = writer.constant(`${bName}_quantized`, DataType.INT32, [...b.dims], bq.q);
      const bScale = writer.constant(`${bName}_scale`, DataType.FLOAT, perChannelBias ? [numel(b.dims)] : [], perChannelBias ? bq.scales : bq.scales.slice(0, 1));
      const bZp = writer.constant(`${bName}_zero_point`, DataType.INT32, perChannelBias ? [numel(b.dims)] : [], new Int32Array(perChannelBias ? numel(b.dims) : 1));
      conv.inputs[2] = writer.node('DequantizeLinear', [bqName, bScale, bZp], `${bName}_DequantizeLinear`, perChannelBias ? 0 : undefined).output;
    }
  }
  return report;
}
