// Shared by the ONNX suites: deterministic inputs and small hand-built models.
import ort from 'onnxruntime-node';
import { DataType, floatTensor, int64Tensor, type Model, type Node, type Tensor, type AttributeValue } from '../../../compress/onnx/ir.js';
import { testModel } from '../../helpers/model.js';

/** A smooth, image-like float input in [0, 1]. */
export function syntheticImage(size: number): ort.Tensor {
  const data = new Float32Array(3 * size * size);
  for (let c = 0; c < 3; c++) {
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        data[(c * size + y) * size + x] = 0.5 + 0.4 * Math.sin((x * (c + 1)) / 17 + y / 23) * Math.cos(y / 31 - c);
      }
    }
  }
  return new ort.Tensor('float32', data, [1, 3, size, size]);
}

export function node(opType: string, inputs: string[], outputs: string[], attributes: Record<string, AttributeValue> = {}, domain = ''): Node {
  return { name: `${opType}_${outputs[0]}`, opType, domain, inputs, outputs, attributes: new Map(Object.entries(attributes)) };
}

export const ints = (value: number[]): AttributeValue => ({ type: 'ints', value });
export const int = (value: number): AttributeValue => ({ type: 'int', value });

function seeded(n: number, seed: number, scale: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (s * 1664525 + 1013904223) >>> 0;
    out[i] = ((s / 2 ** 32) * 2 - 1) * scale;
  }
  return out;
}

/**
 * A small conv net touching the tensor encodings a round trip must keep:
 * float32 and float16 initializers, int64 shapes, a Constant node, an int64
 * attribute at INT64_MAX (Slice ends) and numpy broadcasting.
 */
export function handBuiltModel(): Model {
  const w: Tensor = floatTensor('w', [8, 3, 3, 3], seeded(8 * 27, 1, 0.5));
  const b: Tensor = floatTensor('b', [8], seeded(8, 2, 0.1));
  const half: Tensor = { name: 'half_scale', dataType: DataType.FLOAT16, dims: [1, 8, 1, 1], data: Uint16Array.from([0x3c00, 0x3800, 0x4000, 0x3555, 0x3c01, 0x7bff, 0x0001, 0xbc00]) };
  const nodes: Node[] = [
    node('Conv', ['images', 'w', 'b'], ['c1'], { kernel_shape: ints([3, 3]), pads: ints([1, 1, 1, 1]), strides: ints([2, 2]) }),
    node('Sigmoid', ['c1'], ['s1']),
    node('Mul', ['c1', 's1'], ['silu']),
    node('Cast', ['half_scale'], ['scale32'], { to: int(DataType.FLOAT) }),
    node('Mul', ['silu', 'scale32'], ['scaled']),
    node('MaxPool', ['scaled'], ['pooled'], { kernel_shape: ints([2, 2]), strides: ints([2, 2]) }),
    { ...node('Constant', [], ['shape']), attributes: new Map([['value', { type: 'tensor', value: int64Tensor('shape', [1, 8, -1]) }]]) },
    node('Reshape', ['pooled', 'shape'], ['flat']),
    node('Slice', ['flat', 'starts', 'ends', 'axes'], ['sliced']),
    node('Transpose', ['sliced'], ['output0'], { perm: ints([0, 2, 1]) }),
  ];
  const initializers = new Map<string, Tensor>([
    ['w', w], ['b', b], ['half_scale', half],
    ['starts', int64Tensor('starts', [1])],
    ['ends', { name: 'ends', dataType: DataType.INT64, dims: [1], data: BigInt64Array.from([9223372036854775807n]) }],
    ['axes', int64Tensor('axes', [2])],
  ]);
  return testModel({
    name: 'hand',
    nodes,
    inputs: [{ name: 'images', elemType: DataType.FLOAT, shape: [1, 3, 32, 32] }],
    outputs: [{ name: 'output0', elemType: DataType.FLOAT, shape: null }],
    valueInfo: [],
    initializers,
  }, { metadata: new Map([['names', "{0: 'person', 1: 'bicycle'}"], ['imgsz', '[32, 32]']]) });
}

