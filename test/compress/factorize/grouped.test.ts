import { describe, expect, it } from 'vitest';
import ort from 'onnxruntime-node';
import { groupedFactorizer } from '../../../compress/factorize/grouped.js';
import { factorizeModel, planFactorization } from '../../../compress/factorize/factorize.js';
import { checkModel } from '../../../compress/onnx/check.js';
import { oneConvModel, outputOf, relativeError, seeded } from './helpers.js';

/** A conv whose weights are block-diagonal at 4 groups once channels are put back in a hidden order. */
function hiddenBlocks(cin: number, cout: number, k: number, groups: number): Float32Array {
  const permIn = Array.from({ length: cin }, (_, i) => (i * 7 + 3) % cin);
  const permOut = Array.from({ length: cout }, (_, o) => (o * 5 + 1) % cout);
  const w = seeded(cout * cin * k * k, 3, 0.5);
  for (let o = 0; o < cout; o++) {
    for (let i = 0; i < cin; i++) {
      const sameGroup = Math.floor((permOut[o] * groups) / cout) === Math.floor((permIn[i] * groups) / cin);
      if (!sameGroup) w.fill(0, (o * cin + i) * k * k, (o * cin + i + 1) * k * k);
    }
  }
  return w;
}

describe('grouped factorization', () => {
  const shape = { cin: 16, cout: 24, k: 3, stride: 2, pads: [1, 1, 1, 1] as [number, number, number, number], size: 12 };

  it('finds a hidden block structure: all energy kept and the output exact, through the channel Gathers', async () => {
    const model = oneConvModel({ ...shape, weight: hiddenBlocks(16, 24, 3, 4) });
    const plan = planFactorization(model, 'grouped', 1);
    const g4 = plan.layers[0].options.find((o) => o.rank === 4)!;
    expect(g4.energy).toBeCloseTo(1, 12);
    expect(g4.flops).toBeCloseTo(plan.layers[0].target.flops / 4, 6);
    const { model: out } = await factorizeModel(model, { method: 'grouped', flopsCut: 0, ranks: new Map([['conv', 4]]), plan });
    expect(checkModel(out).ok).toBe(true);
    expect(out.graph.nodes.map((n) => n.opType)).toEqual(['Gather', 'Conv', 'Gather', 'Mul']);
    const input = new ort.Tensor('float32', seeded(16 * 144, 9), [1, 16, 12, 12]);
    expect(relativeError(await outputOf(out, input), await outputOf(model, input))).toBeLessThanOrEqual(1e-5);
  });

  it('never keeps less energy than the unpermuted block diagonal', () => {
    const model = oneConvModel(shape);
    const layer = groupedFactorizer(planFactorization(model, 'grouped', 1).layers[0].target);
    const w = layer.target.weight;
    for (const option of layer.options) {
      const g = option.rank;
      let diag = 0, total = 0;
      for (let o = 0; o < 24; o++) {
        for (let i = 0; i < 16; i++) {
          let e = 0;
          for (let j = 0; j < 9; j++) e += w[(o * 16 + i) * 9 + j] ** 2;
          total += e;
          if (Math.floor((o * g) / 24) === Math.floor((i * g) / 16)) diag += e;
        }
      }
      expect(option.energy).toBeGreaterThanOrEqual(diag / total - 1e-12);
    }
    expect(layer.options.map((o) => o.rank)).toEqual([2, 4]);
  });
});
