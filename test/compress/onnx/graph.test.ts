import { describe, expect, it } from 'vitest';
import {
  bypassNode, constValue, consumers, isConst, producers, removeDeadCode, renameValue, topologicalOrder, uniqueName,
} from '../../../compress/onnx/graph.js';
import { createSession, runWithIntermediates, truncatedTo } from '../../../compress/onnx/session.js';
import { DataType } from '../../../compress/onnx/ir.js';
import { handBuiltModel, node, syntheticImage } from './helpers.js';

describe('graph helpers', () => {
  it('maps producers and consumers', () => {
    const g = handBuiltModel().graph;
    expect(producers(g).get('silu')!.opType).toBe('Mul');
    expect(consumers(g).get('c1')!.map((n) => n.opType)).toEqual(['Sigmoid', 'Mul']);
    expect(isConst(g, 'shape')).toBe(true);
    expect(isConst(g, 'w')).toBe(true);
    expect(isConst(g, 'silu')).toBe(false);
    expect(Array.from(constValue(g, 'shape')!.data as BigInt64Array)).toEqual([1n, 8n, -1n]);
  });

  it('sorts topologically, stably, and reports cycles', () => {
    const g = handBuiltModel().graph;
    const original = [...g.nodes];
    expect(topologicalOrder(g)).toEqual(original);
    g.nodes = [...original].reverse();
    const order = topologicalOrder(g);
    const pos = new Map(order.map((n, i) => [n, i]));
    for (const n of order) for (const p of n.inputs.map((i) => producers(g).get(i)).filter((x) => x)) expect(pos.get(p!)!).toBeLessThan(pos.get(n)!);
    g.nodes.push(node('Identity', ['loop_b'], ['loop_a']), node('Identity', ['loop_a'], ['loop_b']));
    expect(() => topologicalOrder(g)).toThrow(/cycle/);
  });

  it('bypasses a node, renames values and removes dead code, and the model still runs', async () => {
    const model = handBuiltModel();
    const g = model.graph;
    g.nodes.splice(2, 0, node('Identity', ['c1'], ['c1_copy']));
    g.nodes.find((n) => n.opType === 'Sigmoid')!.inputs = ['c1_copy'];
    bypassNode(g, g.nodes.find((n) => n.opType === 'Identity')!);
    expect(g.nodes.some((n) => n.opType === 'Identity')).toBe(false);
    expect(g.nodes.find((n) => n.opType === 'Sigmoid')!.inputs).toEqual(['c1']);
    renameValue(g, 'w', 'conv.weight');
    expect(g.initializers.has('conv.weight')).toBe(true);
    expect(g.nodes[0].inputs[1]).toBe('conv.weight');
    g.nodes.push(node('Relu', ['silu'], ['unused']));
    removeDeadCode(g);
    expect(g.nodes.some((n) => n.opType === 'Relu')).toBe(false);
    expect(uniqueName(g, 'silu')).toBe('silu_1');
    const out = await runWithIntermediates(model, { images: syntheticImage(32) }, ['silu', 'output0']);
    expect(out.silu.dims).toEqual([1, 8, 16, 16]);
    expect(out.output0.dims).toEqual([1, 63, 8]);
  });

  it('truncates a model to the values asked for, without touching the original', async () => {
    const model = handBuiltModel();
    // as IR < 4 exports do: initializers listed as graph inputs too
    model.graph.inputs.push({ name: 'w', elemType: DataType.FLOAT, shape: [8, 3, 3, 3] }, { name: 'ends', elemType: DataType.INT64, shape: [1] });
    const nodes = model.graph.nodes.length;
    const early = truncatedTo(model, ['silu', 'silu']);
    expect(early.graph.outputs.map((o) => o.name)).toEqual(['silu']);
    expect(early.graph.nodes.map((n) => n.opType)).toEqual(['Conv', 'Sigmoid', 'Mul']);
    expect(early.graph.inputs.map((i) => i.name)).toEqual(['images', 'w']);
    expect(early.graph.initializers.has('ends')).toBe(false);
    expect(model.graph.nodes).toHaveLength(nodes);
    expect(model.graph.initializers.has('ends')).toBe(true);
    const session = await createSession(early);
    try {
      const out = await session.run({ images: syntheticImage(32) });
      expect(out.silu.dims).toEqual([1, 8, 16, 16]);
    } finally {
      await session.release();
    }
  });
});
