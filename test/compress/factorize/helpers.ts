// Small hand-built conv graphs and output comparison for the factorization suites.
import ort from 'onnxruntime-node';
import { DataType, floatTensor, type AttributeValue, type Model } from '../../../compress/onnx/ir.js';
import { runModel } from '../../../compress/onnx/session.js';
import { testModel } from '../../helpers/model.js';

export function seeded(n: number, seed: number, scale = 1): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = ((s / 2 ** 32) * 2 - 1) * scale;
  }
  return out;
}

export interface OneConv {
  cin: number;
  cout: number;
  k: number;
  stride: number;
  pads: [number, number, number, number];
  size: number;
  weight?: Float32Array;
}

const ints = (value: number[]): AttributeValue => ({ type: 'ints', value });

/** images [1,cin,size,size] → Conv(k×k) → Mul by 1 → output0: the conv output is an intermediate with a consumer. */
export function oneConvModel(o: OneConv): Model {
  const w = floatTensor('w', [o.cout, o.cin, o.k, o.k], o.weight ?? seeded(o.cout * o.cin * o.k * o.k, 11, 0.3));
  const b = floatTensor('b', [o.cout], seeded(o.cout, 12, 0.1));
  return testModel({
    name: 'one_conv',
    nodes: [
      { name: 'conv', opType: 'Conv', domain: '', inputs: ['images', 'w', 'b'], outputs: ['c'], attributes: new Map([['kernel_shape', ints([o.k, o.k])], ['pads', ints(o.pads)], ['strides', ints([o.stride, o.stride])]]) },
      { name: 'scale', opType: 'Mul', domain: '', inputs: ['c', 'one'], outputs: ['output0'], attributes: new Map() },
    ],
    inputs: [{ name: 'images', elemType: DataType.FLOAT, shape: [1, o.cin, o.size, o.size] }],
    outputs: [{ name: 'output0', elemType: DataType.FLOAT, shape: null }],
    valueInfo: [],
    initializers: new Map([['w', w], ['b', b], ['one', floatTensor('one', [], Float32Array.of(1))]]),
  });
}

export async function outputOf(model: Model, input: ort.Tensor, name = 'output0'): Promise<ort.Tensor> {
  const inputName = model.graph.inputs[0].name;
  return (await runModel(model, { [inputName]: input }))[name];
}

/** ‖a − b‖ / ‖b‖. */
export function relativeError(a: ort.Tensor, b: ort.Tensor): number {
  const x = a.data as Float32Array, y = b.data as Float32Array;
  let num = 0, den = 0;
  for (let i = 0; i < y.length; i++) {
    num += (x[i] - y[i]) ** 2;
    den += y[i] ** 2;
  }
  return Math.sqrt(num / den);
}
