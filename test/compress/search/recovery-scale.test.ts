// How the search scales its unrecovered loss terms to recovered builds
// (compress/search/terms.ts probeGenomes and scaleOf, proxy.ts scaleTerms),
// worked out by hand on a three-group, two-conv space.
import { describe, expect, it } from 'vitest';
import { scaleTerms, sizePrecisionKey, type ProxyTerms } from '../../../compress/search/proxy.js';
import { probeGenomes, scaleOf } from '../../../compress/search/terms.js';
import type { SearchSpace } from '../../../compress/search/space.js';

const space: SearchSpace = {
  baseSize: 64, sizes: [64, 32], precisions: ['fp32', 'int8'],
  groups: [{ name: 'a', units: 32, removals: [0, 8, 16] }, { name: 'b', units: 16, removals: [0, 4] }, { name: 'c', units: 16, removals: [0, 4] }, { name: 'frozen', units: 8, removals: [0] }],
  convs: [{ name: 'x', options: [null, { method: 'spatial', keep: 0.25 }] }, { name: 'y', options: [null, { method: 'spatial', keep: 0.25 }] }],
};
const terms: ProxyTerms = {
  sizePrecision: { [sizePrecisionKey(64, 'fp32')]: 0, [sizePrecisionKey(64, 'int8')]: 0.02, [sizePrecisionKey(32, 'fp32')]: 0.3, [sizePrecisionKey(32, 'int8')]: 0.35 },
  // first cuts 0.10, 0.30, 0.20 (the frozen group has none): median 0.20, so a and c are the cheap half
  prune: [[0, 0.1, 0.5], [0, 0.3], [0, 0.2], [0]],
  // first options 0.04 and 0.02: median (lower middle of two) 0.02, so y alone
  factor: [[0, 0.04], [0, 0.02]],
};

describe('recovery scale of the search terms', () => {
  it('probes the cheaper half of each kind at its first level, at the base size and precision', () => {
    const { prune, factor } = probeGenomes(space, terms);
    expect(prune).toEqual({ size: 64, precision: 'fp32', prune: [1, 0, 1, 0], factor: [0, 0] });
    expect(factor).toEqual({ size: 64, precision: 'fp32', prune: [0, 0, 0, 0], factor: [0, 1] });
  });

  it('has no probe for a kind the space cannot cut', () => {
    const bare: SearchSpace = { ...space, convs: [] };
    expect(probeGenomes(bare, { ...terms, factor: [] }).factor).toBeNull();
  });

  it('scales by measured over predicted, within [0.01, 10], and leaves the size × precision terms alone', () => {
    // the prune probe predicts 0.1 + 0.2 = 0.3; a recovered build measured 0.03 → 0.1
    expect(scaleOf(0.3, 0.03)).toBeCloseTo(0.1, 12);
    expect(scaleOf(0.3, 0)).toBe(0.01);
    expect(scaleOf(0.01, 1)).toBe(10);
    expect(scaleOf(0, 0.2)).toBe(1);
    const scaled = scaleTerms(terms, { prune: 0.1, factor: 0.5 });
    expect(scaled.prune[0][2]).toBeCloseTo(0.05, 12);
    expect(scaled.prune[1][1]).toBeCloseTo(0.03, 12);
    expect(scaled.factor[0][1]).toBeCloseTo(0.02, 12);
    expect(scaled.sizePrecision).toEqual(terms.sizePrecision);
  });
});
