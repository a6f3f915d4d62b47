import { describe, expect, it } from 'vitest';
import { modelCost } from '../../compress/cost.js';
import { readModelFile } from '../../compress/onnx/read.js';
import { fixture, fixturesSkipReason, haveFixtures } from '../fixtures.js';
import { handBuiltModel } from './onnx/helpers.js';

describe('modelCost', () => {
  it('counts conv MACs at the model input size, without bias adds', () => {
    const cost = modelCost(handBuiltModel());
    const conv = cost.nodes.find((n) => n.opType === 'Conv')!;
    // 8 output channels × 16×16 outputs × (3 in-channels × 3×3 kernel).
    expect(conv.macs).toBe(8 * 16 * 16 * 27);
    expect(conv.flops).toBe(2 * conv.macs);
    expect(conv.parameters).toBe(8 * 27 + 8);
    expect(cost.flops).toBe(conv.flops);
    expect(cost.nodes.find((n) => n.opType === 'Sigmoid')!.elementwiseOps).toBe(8 * 16 * 16);
    expect(cost.nodes.find((n) => n.opType === 'Reshape')!.kind).toBe('none');
    // float32 w + b, float16 scale, three int64 Slice inputs.
    expect(cost.weightBytes).toBe(224 * 4 + 8 * 2 + 3 * 8);
    expect(cost.unknownShapes).toEqual([]);
  });

  it('counts grouped convs per group', () => {
    const model = handBuiltModel();
    const conv = model.graph.nodes[0];
    conv.attributes.set('group', { type: 'int', value: 1 });
    const dense = modelCost(model).flops;
    // Depthwise variant: 3 groups, weight [3, 1, 3, 3] → one input channel per output.
    model.graph.initializers.set('w', { name: 'w', dataType: 1, dims: [3, 1, 3, 3], data: new Float32Array(27) });
    model.graph.initializers.set('b', { name: 'b', dataType: 1, dims: [3], data: new Float32Array(3) });
    conv.attributes.set('group', { type: 'int', value: 3 });
    const depthwise = modelCost(model).nodes[0];
    expect(depthwise.macs).toBe(3 * 16 * 16 * 9);
    expect(dense).toBeGreaterThan(depthwise.flops);
  });
});

describe.skipIf(!haveFixtures)(`modelCost on fixtures (${fixturesSkipReason})`, () => {
  it('counts the QDQ weights once and not their scales', () => {
    const cost = modelCost(readModelFile(fixture('models', 'yolov8n_int8_qdq.onnx')));
    expect(cost.parameters).toBe(3_151_904);
    expect(cost.nodes.filter((n) => n.kind === 'conv')).toHaveLength(64);
    expect(cost.unknownShapes).toEqual([]);
    expect(cost.matmulFlops).toBe(0);
  });
  it('reports YOLO11 attention matmuls apart from Ultralytics GFLOPs', () => {
    const cost = modelCost(readModelFile(fixture('models', 'yolo11n_int8_dynamic_320.onnx')));
    expect(cost.nodes.filter((n) => n.kind === 'matmul')).toHaveLength(2);
    expect(cost.matmulFlops).toBeGreaterThan(0);
    expect(cost.gflops).toBeCloseTo(6.5 / 4, 1);
  });
});
