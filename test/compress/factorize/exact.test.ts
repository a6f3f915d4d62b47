import { describe, expect, it } from 'vitest';
import ort from 'onnxruntime-node';
import { factorizeModel, planFactorization } from '../../../compress/factorize/factorize.js';
import { FACTOR_METHODS } from '../../../compress/factorize/layer.js';
import { checkModel } from '../../../compress/onnx/check.js';
import { oneConvModel, outputOf, relativeError, seeded, type OneConv } from './helpers.js';

const CASES: (OneConv & { label: string })[] = [
  { label: 'k3 stride 1 pad 1', cin: 8, cout: 12, k: 3, stride: 1, pads: [1, 1, 1, 1], size: 15 },
  { label: 'k3 stride 2 pad 1', cin: 8, cout: 12, k: 3, stride: 2, pads: [1, 1, 1, 1], size: 15 },
  { label: 'k3 stride 2 asymmetric pads', cin: 12, cout: 8, k: 3, stride: 2, pads: [0, 1, 1, 2], size: 16 },
  { label: 'k5 stride 1 pad 2', cin: 6, cout: 6, k: 5, stride: 1, pads: [2, 2, 2, 2], size: 11 },
];

describe('every method is exact at full rank', () => {
  for (const c of CASES) {
    for (const method of FACTOR_METHODS) {
      it(`${method}, ${c.label}`, async () => {
        const model = oneConvModel(c);
        const plan = planFactorization(model, method, 1);
        expect(plan.layers).toHaveLength(1);
        const layer = plan.layers[0];
        const { model: out, report } = await factorizeModel(model, { method, flopsCut: 0, ranks: new Map([['conv', layer.exactRank]]), plan });
        expect(checkModel(out)).toEqual({ ok: true, problems: [] });
        const ops = out.graph.nodes.map((n) => n.opType);
        if (method !== 'grouped') expect(ops.filter((o) => o === 'Conv')).toHaveLength(2);
        else expect(out.graph.nodes).toEqual(model.graph.nodes.map((n) => expect.objectContaining({ opType: n.opType })));
        const input = new ort.Tensor('float32', seeded(c.cin * c.size * c.size, 5), [1, c.cin, c.size, c.size]);
        const original = await outputOf(model, input);
        const factored = await outputOf(out, input);
        expect(factored.dims).toEqual(original.dims);
        expect(relativeError(factored, original)).toBeLessThanOrEqual(1e-5);
        expect(report.layers[0].energy).toBe(1);
      });
    }
  }
});
