import { describe, expect, it } from 'vitest';
import { nodeShapes } from '../../../compress/latency/features.js';
import { DataType, floatTensor, type AttributeValue, type Node } from '../../../compress/onnx/ir.js';
import { testModel } from '../../helpers/model.js';

const conv = (name: string, input: string, weight: string, output: string, group = 1): Node => ({
  name,
  opType: 'Conv',
  domain: '',
  inputs: [input, weight],
  outputs: [output],
  attributes: new Map<string, AttributeValue>([
    ['group', { type: 'int', value: group }],
    ['pads', { type: 'ints', value: [1, 1, 1, 1] }],
  ]),
});

describe('node shapes', () => {
  // 3 → 32 (3×3, aligned) → 24 (3×3, 24 is no multiple of 16: plain layout) → 24 (depthwise), all at 8×8
  const model = testModel({
    name: 'convs',
    nodes: [conv('c1', 'images', 'w1', 'a'), conv('c2', 'a', 'w2', 'b'), conv('c3', 'b', 'w3', 'out', 24)],
    inputs: [{ name: 'images', elemType: DataType.FLOAT, shape: [1, 3, 8, 8] }],
    outputs: [{ name: 'out', elemType: DataType.FLOAT, shape: [1, 24, 8, 8] }],
    valueInfo: [],
    initializers: new Map([
      ['w1', floatTensor('w1', [32, 3, 3, 3])],
      ['w2', floatTensor('w2', [24, 32, 3, 3])],
      ['w3', floatTensor('w3', [24, 1, 3, 3])],
    ]),
  });
  const shapes = nodeShapes(model);

  it('counts a conv\'s MACs a second time only where its channels leave the blocked layout, within the same kind', () => {
    const [c1, c2, c3] = shapes;
    // MACs = output elements × (input channels / group) × kernel area
    expect(c1.x).toEqual([32 * 64 * 3 * 9, 32 * 64, 3 * 64, 32 * 3 * 9, 0]);
    expect(c2.x).toEqual([24 * 64 * 32 * 9, 24 * 64, 32 * 64, 24 * 32 * 9, 24 * 64 * 32 * 9]);
    expect(c1.kinds).toEqual(['Conv/fp32/3x3', 'Conv/fp32', 'Conv']);
    expect(c2.kinds).toEqual(c1.kinds);
    // depthwise is its own kind and never "odd"
    expect(c3.kinds).toEqual(['Conv/fp32/3x3/dw', 'Conv/fp32/3x3', 'Conv/fp32', 'Conv']);
    expect(c3.x).toEqual([24 * 64 * 9, 24 * 64, 24 * 64, 24 * 9, 0]);
  });
});
