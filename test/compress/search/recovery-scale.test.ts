// How the search maps its unrecovered loss terms to recovered builds
// (compress/search/terms.ts probeGenomes and fitRecoveryCurve, proxy.ts
// predictedLoss with curves), worked out by hand on a small space.
import { describe, expect, it } from 'vitest';
import { predictedLoss, recovered, sizePrecisionKey, type ProxyTerms } from '../../../compress/search/proxy.js';
import { fitRecoveryCurve, MIN_EXPONENT, probeGenomes, scaleOf, SHALLOW_CUTS } from '../../../compress/search/terms.js';
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

describe('recovery curves of the search terms', () => {
  it('probes the cheaper half of each kind at its first level, at the base size and precision', () => {
    const { prune, factor } = probeGenomes(space, terms);
    expect(prune?.deep).toEqual({ size: 64, precision: 'fp32', prune: [1, 0, 1, 0], factor: [0, 0] });
    expect(factor?.deep).toEqual({ size: 64, precision: 'fp32', prune: [0, 0, 0, 0], factor: [0, 1] });
    // two and one cuts: no more than SHALLOW_CUTS, so no shallow probe beside them
    expect(SHALLOW_CUTS).toBe(3);
    expect(prune?.shallow).toBeNull();
    expect(factor?.shallow).toBeNull();
  });

  it('adds a shallow probe of the SHALLOW_CUTS cheapest first cuts when the cheap half holds more', () => {
    // eight groups, first cuts 0.08, 0.01, 0.07, 0.02, 0.06, 0.03, 0.05, 0.9: median (lower middle) 0.05,
    // so the cheap half is the five at or below it and the three cheapest are 0.01, 0.02, 0.03
    const firsts = [0.08, 0.01, 0.07, 0.02, 0.06, 0.03, 0.05, 0.9];
    const wide: SearchSpace = { ...space, groups: firsts.map((_, k) => ({ name: `g${k}`, units: 16, removals: [0, 4] })), convs: [] };
    const t: ProxyTerms = { ...terms, prune: firsts.map((f) => [0, f]), factor: [] };
    const { prune, factor } = probeGenomes(wide, t);
    expect(prune?.deep.prune).toEqual([0, 1, 0, 1, 0, 1, 1, 0]);
    expect(prune?.shallow?.prune).toEqual([0, 1, 0, 1, 0, 1, 0, 0]);
    expect(factor).toBeNull();
  });

  it('has no probe for a kind the space cannot cut', () => {
    const bare: SearchSpace = { ...space, convs: [] };
    expect(probeGenomes(bare, { ...terms, factor: [] }).factor).toBeNull();
  });

  it('with one probe, a line through the origin: measured over predicted, within [0.01, 10]', () => {
    // the prune probe predicts 0.1 + 0.2 = 0.3; a recovered build measured 0.03 → 0.1
    expect(scaleOf(0.3, 0.03)).toBeCloseTo(0.1, 12);
    expect(scaleOf(0.3, 0)).toBe(0.01);
    expect(scaleOf(0.01, 1)).toBe(10);
    expect(scaleOf(0, 0.2)).toBe(1);
    expect(fitRecoveryCurve({ predicted: 0.3, measured: 0.03 })).toEqual({ a: expect.closeTo(0.1, 12), b: 1 });
  });

  it('with a shallow and a deep probe, the power law through both', () => {
    // shallow: 0.04 → 0.02, deep: 6.4 → 0.64. b = ln(0.64/0.02) / ln(6.4/0.04) = ln 32 / ln 160; a = 0.64 / 6.4^b
    const b = Math.log(32) / Math.log(160);
    const c = fitRecoveryCurve({ predicted: 6.4, measured: 0.64 }, { predicted: 0.04, measured: 0.02 });
    expect(c.b).toBeCloseTo(b, 12);
    expect(c.a).toBeCloseTo(0.64 / 6.4 ** b, 12);
    expect(recovered(c, 0.04)).toBeCloseTo(0.02, 12);
    expect(recovered(c, 6.4)).toBeCloseTo(0.64, 12);
    // concave: a light cut costs more per unit of S than the deep probe's average (0.1), and far more than the line
    expect(recovered(c, 0.3)).toBeGreaterThan(0.1 * 0.3);
    expect(recovered(c, 0)).toBe(0);
  });

  it('keeps the exponent within [MIN_EXPONENT, 1], and falls back to the line when the shallow probe says nothing', () => {
    // growing faster than the sum (0.01 → 0.01 at 100× the sum would be b = 0): clamped to MIN_EXPONENT
    expect(fitRecoveryCurve({ predicted: 1, measured: 0.01 }, { predicted: 0.01, measured: 0.01 }).b).toBe(MIN_EXPONENT);
    // convex (b = 2 through these) is clamped to the line through the deep probe
    expect(fitRecoveryCurve({ predicted: 1, measured: 0.5 }, { predicted: 0.1, measured: 0.005 })).toEqual({ a: 0.5, b: 1 });
    // a shallow probe that lost nothing gives no exponent
    expect(fitRecoveryCurve({ predicted: 1, measured: 0.5 }, { predicted: 0.1, measured: 0 })).toEqual({ a: 0.5, b: 1 });
  });

  it('applies each kind\'s curve to the sum of its terms, and leaves the size × precision term alone', () => {
    const g = { size: 32, precision: 'int8' as const, prune: [2, 1, 0, 0], factor: [1, 0] };
    const curves = { prune: { a: 0.5, b: 0.5 }, factor: { a: 2, b: 1 } };
    // 0.35 + 0.5·(0.5 + 0.3)^0.5 + 2·0.04
    expect(predictedLoss(terms, g, curves)).toBeCloseTo(0.35 + 0.5 * Math.sqrt(0.8) + 0.08, 12);
    // without curves: the plain sum
    expect(predictedLoss(terms, g)).toBeCloseTo(0.35 + 0.8 + 0.04, 12);
  });
});
