// A float16 copy of a float model: weights stored as float16 and every op
// that onnxruntime can run in float16 computing in it, with float32 graph
// inputs and outputs (Casts at the edges) unless half I/O is asked for. Ops
// without a float16 kernel keep computing in float32 between Casts, so the
// model always loads; on CPUs without half arithmetic that makes it slower
// than fp32, which the benchmark reports rather than hides.
import { addLineageStep, sha256Hex } from './lineage.js';
import { removeDeadCode, sortGraph, uniqueName } from './onnx/graph.js';
import { DataType, type Model, type Node, type Tensor } from './onnx/ir.js';
import { weightFormat } from './onnx/info.js';
import { inferShapes } from './onnx/shapes.js';
import { toFloat32 } from './onnx/tensor.js';
import { writeModel } from './onnx/write.js';
import { codedError } from '../protocol/errors.js';

export class Fp16Error extends codedError('E_FP16') {
  override name = 'Fp16Error';
}

/**
 * Ops kept float32 with Casts around them: those onnxruntime has lacked
 * float16 kernels for on some execution providers (the block list of ONNX's
 * float16 converter; for YOLO only Resize occurs). Everything else is written
 * in float16 so GPU and ARM64 devices compute in half. onnxruntime 1.30's x86
 * CPU provider has no float16 Conv, Sigmoid or Mul kernel: loading such a
 * model there, its InsertCastTransformer wraps them in Casts itself (seen in
 * the optimized graph), so the file loads everywhere and x86 runs it at about
 * fp32 speed.
 */
export const FLOAT32_ONLY_OPS: ReadonlySet<string> = new Set(['Resize', 'Upsample', 'NonMaxSuppression', 'TopK', 'RoiAlign', 'Range', 'CumSum', 'ArgMax', 'ArgMin']);

/** Inputs that the ONNX spec types as float32 whatever the data type (Resize roi and scales). */
function mustStayFloat32(node: Node, index: number): boolean {
  return node.opType === 'Resize' && (index === 1 || index === 2);
}

/** float32 → IEEE half bits, round to nearest even, overflow to ±65504 (a weight never becomes infinite). */
export function floatToHalfBits(value: number): number {
  if (Number.isNaN(value)) return 0x7e00;
  const sign = value < 0 || Object.is(value, -0) ? 0x8000 : 0;
  const a = Math.min(Math.abs(value), 65504);
  if (a < 2 ** -24 / 2) return sign;
  if (a < 2 ** -14) return sign | roundHalfEven(a / 2 ** -24);
  let exp = Math.floor(Math.log2(a));
  let mant = roundHalfEven((a / 2 ** exp - 1) * 1024);
  if (mant === 1024) {
    mant = 0;
    exp++;
  }
  return sign | ((exp + 15) << 10) | mant;
}

function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  return d > 0.5 || (d === 0.5 && f % 2 === 1) ? f + 1 : f;
}

function toHalfTensor(t: Tensor): Tensor {
  const src = toFloat32(t);
  const data = new Uint16Array(src.length);
  for (let i = 0; i < src.length; i++) data[i] = floatToHalfBits(src[i]);
  return { ...t, dataType: DataType.FLOAT16, data };
}

export interface Fp16Options {
  /** float32 graph inputs and outputs (default true); false makes them float16. */
  keepIoFloat?: boolean;
  /** Ops computed in float32 between Casts; default FLOAT32_ONLY_OPS. */
  float32Ops?: ReadonlySet<string>;
  baseSha256?: string;
}

export interface Fp16Report {
  halfNodes: number;
  floatNodes: number;
  float32Ops: string[];
  castsAdded: number;
  halfInitializers: number;
  keepIoFloat: boolean;
}

export function convertToFp16(input: Model, options: Fp16Options = {}): { model: Model; report: Fp16Report } {
  const format = weightFormat(input);
  if (format !== 'fp32') throw new Fp16Error(`fp16 conversion needs an fp32 model, this one is ${format} (dequantize int8 models first)`);
  const keepIoFloat = options.keepIoFloat ?? true;
  const float32Ops = options.float32Ops ?? FLOAT32_ONLY_OPS;
  const model = structuredClone(input);
  const g = model.graph;
  const types = inferShapes(model);
  const isFloat = (v: string) => v !== '' && types.get(v)?.elemType === DataType.FLOAT;

  // Where each float value lives now: 'half' or 'float'.
  const precision = new Map<string, 'half' | 'float'>();
  const casts = new Map<string, string>();
  const added: Node[] = [];
  const castTo = (value: string, to: 'half' | 'float'): string => {
    const key = `${value}|${to}`;
    const have = casts.get(key);
    if (have) return have;
    const out = uniqueName(g, `${value}_to_${to === 'half' ? 'fp16' : 'fp32'}`);
    const node: Node = { name: out, opType: 'Cast', domain: '', inputs: [value], outputs: [out], attributes: new Map([['to', { type: 'int', value: to === 'half' ? DataType.FLOAT16 : DataType.FLOAT }]]) };
    g.nodes.push(node);
    added.push(node);
    casts.set(key, out);
    return out;
  };

  for (const i of g.inputs) if (isFloat(i.name)) precision.set(i.name, keepIoFloat ? 'float' : 'half');
  if (!keepIoFloat) for (const i of g.inputs) if (isFloat(i.name)) i.elemType = DataType.FLOAT16;

  // An initializer becomes half when some reader computes in half.
  const halfReaders = new Map<string, boolean>();
  const original = [...g.nodes];
  for (const n of original) {
    const half = !float32Ops.has(n.opType);
    n.inputs.forEach((v, k) => {
      if (g.initializers.has(v) && isFloat(v) && half && !mustStayFloat32(n, k) && n.opType !== 'Cast') halfReaders.set(v, true);
    });
  }
  let halfInitializers = 0;
  for (const [name, t] of g.initializers) {
    if (t.dataType !== DataType.FLOAT) continue;
    if (halfReaders.get(name)) {
      g.initializers.set(name, toHalfTensor(t));
      precision.set(name, 'half');
      halfInitializers++;
    } else precision.set(name, 'float');
  }

  let halfNodes = 0, floatNodes = 0;
  for (const n of sortedCopy(model, original)) {
    if (n.opType === 'Cast') {
      const to = n.attributes.get('to');
      if (to?.type === 'int' && to.value === DataType.FLOAT) {
        n.attributes.set('to', { type: 'int', value: DataType.FLOAT16 });
        precision.set(n.outputs[0], 'half');
      }
      continue;
    }
    if (n.opType === 'Constant') {
      const v = n.attributes.get('value');
      if (v?.type === 'tensor' && v.value.dataType === DataType.FLOAT) {
        n.attributes.set('value', { type: 'tensor', value: toHalfTensor(v.value) });
        precision.set(n.outputs[0], 'half');
      }
      continue;
    }
    const half = !float32Ops.has(n.opType);
    if (half) halfNodes++;
    else floatNodes++;
    n.inputs = n.inputs.map((v, k) => {
      if (!isFloat(v)) return v;
      const want = half && !mustStayFloat32(n, k) ? 'half' : 'float';
      return precision.get(v) === want ? v : castTo(v, want);
    });
    for (const o of n.outputs) if (isFloat(o)) precision.set(o, half ? 'half' : 'float');
  }

  for (const o of g.outputs) {
    if (!isFloat(o.name)) continue;
    const want = keepIoFloat ? 'float' : 'half';
    if (precision.get(o.name) !== want) {
      // The producer writes a renamed value; a Cast writes the output under its public name.
      const inner = uniqueName(g, `${o.name}_${want === 'float' ? 'fp16' : 'fp32'}`);
      for (const n of g.nodes) n.outputs = n.outputs.map((x) => (x === o.name ? inner : x));
      for (const n of g.nodes) n.inputs = n.inputs.map((x) => (x === o.name ? inner : x));
      g.nodes.push({ name: `${o.name}_Cast`, opType: 'Cast', domain: '', inputs: [inner], outputs: [o.name], attributes: new Map([['to', { type: 'int', value: want === 'float' ? DataType.FLOAT : DataType.FLOAT16 }]]) });
      added.push(g.nodes[g.nodes.length - 1]);
    }
    if (!keepIoFloat) o.elemType = DataType.FLOAT16;
  }

  g.valueInfo = [];
  removeDeadCode(g);
  sortGraph(g);
  addLineageStep(model, options.baseSha256 ?? sha256Hex(writeModel(input)), 'fp16', { keepIoFloat, float32Ops: [...float32Ops].sort() });
  return {
    model,
    report: { halfNodes, floatNodes, float32Ops: [...float32Ops].sort(), castsAdded: added.length, halfInitializers, keepIoFloat },
  };
}

function sortedCopy(model: Model, nodes: Node[]): Node[] {
  const order = new Set(nodes);
  sortGraph(model.graph);
  return model.graph.nodes.filter((n) => order.has(n));
}
