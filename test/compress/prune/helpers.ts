// Small conv nets, one per kind of channel coupling, and the "zeroed" twin of
// a pruning plan: the original model with the removed channels' producing
// filters, biases and per-channel constants set to zero. Where every op maps
// 0 to 0 the zeroed model must compute exactly what the pruned one does.
import ort from 'onnxruntime-node';
import { DataType, floatTensor, int64Tensor, numel, type AttributeValue, type Model, type Node, type Tensor } from '../../../compress/onnx/ir.js';
import { runModel } from '../../../compress/onnx/session.js';
import { constValue, producers } from '../../../compress/onnx/graph.js';
import type { DependencyGraph } from '../../../compress/prune/dependency.js';
import { toFloat32 } from '../../../compress/onnx/tensor.js';

export function seeded(n: number, seed: number, scale = 0.5): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (s * 1664525 + 1013904223) >>> 0;
    out[i] = ((s / 2 ** 32) * 2 - 1) * scale;
  }
  return out;
}

const ints = (value: number[]): AttributeValue => ({ type: 'ints', value });
const int = (value: number): AttributeValue => ({ type: 'int', value });

/** Builds a graph one op at a time; convs get seeded weights and biases. */
export class Net {
  readonly nodes: Node[] = [];
  readonly inits = new Map<string, Tensor>();
  private n = 0;

  op(opType: string, inputs: string[], attrs: Record<string, AttributeValue> = {}, outputs = 1): string[] {
    const outs = Array.from({ length: outputs }, () => `v${this.n++}`);
    this.nodes.push({ name: `${opType}_${outs[0]}`, opType, domain: '', inputs, outputs: outs, attributes: new Map(Object.entries(attrs)) });
    return outs;
  }

  init(t: Tensor): string {
    this.inits.set(t.name, t);
    return t.name;
  }

  conv(x: string, cin: number, cout: number, k = 3, group = 1, bias = true): string {
    const id = this.n;
    const w = this.init(floatTensor(`w${id}`, [cout, cin / group, k, k], seeded(cout * (cin / group) * k * k, 11 + id, 1 / Math.sqrt((cin / group) * k * k))));
    const inputs = [x, w];
    if (bias) inputs.push(this.init(floatTensor(`b${id}`, [cout], seeded(cout, 97 + id, 0.2))));
    return this.op('Conv', inputs, { kernel_shape: ints([k, k]), pads: ints([k >> 1, k >> 1, k >> 1, k >> 1]), group: int(group) })[0];
  }

  silu(x: string): string {
    const s = this.op('Sigmoid', [x])[0];
    return this.op('Mul', [x, s])[0];
  }

  convSilu(x: string, cin: number, cout: number, k = 3, group = 1): string {
    return this.silu(this.conv(x, cin, cout, k, group));
  }

  ints(name: string, values: number[]): string {
    return this.init(int64Tensor(name, values));
  }

  floats(name: string, dims: number[], values?: Float32Array): string {
    return this.init(floatTensor(name, dims, values ?? seeded(numel(dims), name.length * 31 + 7, 1)));
  }

  model(output: string, size = 16, opset = 17): Model {
    const nodes = [...this.nodes];
    nodes.push({ name: 'out', opType: 'Identity', domain: '', inputs: [output], outputs: ['output0'], attributes: new Map() });
    return {
      irVersion: 8, opsetImports: [{ domain: '', version: opset }], producerName: 'edgefit-test', producerVersion: '0', domain: '', modelVersion: 1, docString: '',
      metadata: new Map(),
      graph: { name: 'net', nodes, inputs: [{ name: 'images', elemType: DataType.FLOAT, shape: [1, 3, size, size] }], outputs: [{ name: 'output0', elemType: DataType.FLOAT, shape: null }], valueInfo: [], initializers: this.inits },
    };
  }
}

/** The original model with every removed channel's filter, bias and per-channel constants zeroed. */
export function zeroedModel(dep: DependencyGraph, removed: ReadonlySet<number>): Model {
  const model = structuredClone(dep.model);
  const g = model.graph;
  const prod = producers(g);
  const isRemoved = (value: string, ch: number) => {
    const v = dep.values.get(value);
    return !!v && removed.has(dep.root[v.offset + ch]);
  };
  for (const c of dep.convs) {
    const w = toFloat32(constValue(g, c.weight, prod)!).slice();
    const b = c.bias ? toFloat32(constValue(g, c.bias, prod)!).slice() : undefined;
    const row = w.length / c.weightDims[0];
    for (let o = 0; o < c.weightDims[0]; o++) {
      if (!isRemoved(c.output, o)) continue;
      w.fill(0, o * row, (o + 1) * row);
      if (b) b[o] = 0;
    }
    g.initializers.set(c.weight, floatTensor(c.weight, [...c.weightDims], w));
    if (b && c.bias) g.initializers.set(c.bias, floatTensor(c.bias, [c.weightDims[0]], b));
  }
  for (const v of dep.values.values()) {
    if (!v.constant) continue;
    const t = constValue(g, v.name, prod)!;
    const data = toFloat32(t).slice();
    const inner = numel(t.dims.slice(v.axis + 1));
    for (let i = 0; i < data.length; i++) if (isRemoved(v.name, Math.floor(i / inner) % v.channels)) data[i] = 0;
    g.initializers.set(v.name, floatTensor(v.name, [...t.dims], data));
  }
  return model;
}

export function imageInput(size: number, seed = 5): Record<string, ort.Tensor> {
  return { images: new ort.Tensor('float32', seeded(3 * size * size, seed, 1).map((x) => x + 0.5), [1, 3, size, size]) };
}

export async function output(model: Model, size: number): Promise<Float32Array> {
  const out = await runModel(model, imageInput(size), { optimization: 'disabled' });
  return out.output0.data as Float32Array;
}

/** Largest |a − b| relative to the largest |a|. */
export function relativeError(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return Infinity;
  let diff = 0, scale = 1e-12;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(a[i]));
  }
  return diff / scale;
}
