// The search's objectives from measured terms (compress/search/proxy.ts),
// worked out by hand on a two-group, one-conv space.
import { describe, expect, it } from 'vitest';
import type { NodeShape } from '../../../compress/latency/features.js';
import type { LatencyPredictor } from '../../../compress/latency/predict.js';
import { predictedLoss, pruneTerms, searchProxy, sizePrecisionKey, type ProxyTerms } from '../../../compress/search/proxy.js';
import type { Genome } from '../../../compress/search/genome.js';
import type { SearchSpace } from '../../../compress/search/space.js';

const space: SearchSpace = {
  baseSize: 64, sizes: [64, 32], precisions: ['fp32', 'int8'],
  groups: [{ name: 'a', units: 32, removals: [0, 8, 16] }, { name: 'b', units: 16, removals: [0] }],
  convs: [{ name: 'c', options: [null, { method: 'spatial', keep: 0.25 }] }],
};
const terms: ProxyTerms = {
  sizePrecision: { [sizePrecisionKey(64, 'fp32')]: 0, [sizePrecisionKey(64, 'int8')]: 0.02, [sizePrecisionKey(32, 'fp32')]: 0.3, [sizePrecisionKey(32, 'int8')]: 0.35 },
  prune: [[0, 0.01, 0.05], [0]],
  factor: [[0, 0.004]],
};

describe('search proxy', () => {
  it('adds the size × precision, prune and factor terms of a genome', () => {
    const g: Genome = { size: 32, precision: 'int8', prune: [2, 0], factor: [1] };
    expect(predictedLoss(terms, g)).toBeCloseTo(0.35 + 0.05 + 0.004, 12);
    expect(predictedLoss(terms, { size: 64, precision: 'fp32', prune: [0, 0], factor: [0] })).toBe(0);
    expect(() => predictedLoss(terms, { ...g, size: 48 })).toThrow(/no measured term for size 48 at int8/);
  });

  it("maps a space's removal counts to the profile's levels by count, not by position", () => {
    const levels = [[{ removed: 16, loss: 0.05 }, { removed: 8, loss: 0.01 }], []];
    expect(pruneTerms(space, levels)).toEqual([[0, 0.01, 0.05], [0]]);
    expect(() => pruneTerms(space, [[{ removed: 8, loss: 0.01 }], []])).toThrow(/group a allows removing 16 units, which its sensitivity profile never measured/);
  });

  it('predicts latency from the shapes and breaks the SLO by the predicted excess', () => {
    // one kind, 2 µs per feature unit and 10 µs a node, whole model = 1 × Σ + 0.5 ms
    const predictor: LatencyPredictor = { kinds: new Map([['Conv', { kind: 'Conv', samples: 3, weights: [2], intercept: 10 }]]), scale: 1, constantMs: 0.5, profiles: 3 };
    const shapes = (g: Genome): NodeShape[] => [{ node: 'n', op: 'Conv', kinds: ['Conv'], x: [g.size * 10] }];
    const proxy = searchProxy({ predictor, shapes, terms, maxLatencyMs: 1.5 });
    const big: Genome = { size: 64, precision: 'fp32', prune: [0, 0], factor: [0] };
    // 10 + 2 × 640 = 1290 µs → 1.29 + 0.5 = 1.79 ms, 0.29 over the bound
    expect(proxy.evaluate(big).objectives[0]).toBeCloseTo(1.79, 9);
    expect(proxy.evaluate(big).violation).toBeCloseTo(0.29, 9);
    // 10 + 2 × 320 = 650 µs → 1.15 ms: feasible
    expect(proxy.evaluate({ ...big, size: 32 })).toEqual({ objectives: [expect.closeTo(1.15, 9), 0.3], violation: 0 });
  });
});
