// The held-back recalibration guard (opt-in: recalibrateIfBetter's heldBack)
// judges on calibration sources the fit did not see (the substitution guard,
// on by default, is in substitution-guard.test.ts). A constructed case where the gain is only in-sample: a linear
// net (three 1×1 convs) whose first conv loses half its channels, calibrated
// on two source images that sit at +1 and −1. The second conv's output then
// misses a term that is +δ on one source and about −δ on the other. Fitted on
// both sources the per-channel scale nearly undoes the cut (the two clusters'
// spread is the term's sign), so the in-sample check sees a gain; fitted on
// one source, the shift it learns (+δ) is exactly wrong on the other (−δ),
// so held back it loses.
import { describe, expect, it } from 'vitest';
import { sourceHalves } from '../../../compress/calibration.js';
import { keepRecalibration, recalibrateIfBetter, recalibrateStatistics } from '../../../compress/prune/recalibrate.js';
import { linearCut, loss } from './guard-cases.js';

describe('recalibration guard on held-back calibration sources', () => {
  it('splits the calibration sources into two halves, every view with its image', () => {
    const inputs = Array.from({ length: 8 }, (_, i) => new Float32Array([i]));
    const [a, b] = sourceHalves({ files: [], inputs, size: 1, sources: [0, 0, 1, 1, 2, 2, 3, 3] })!;
    expect(a.inputs.map((x) => x[0])).toEqual([0, 1, 4, 5]);
    expect(a.sources).toEqual([0, 0, 2, 2]);
    expect(b.inputs.map((x) => x[0])).toEqual([2, 3, 6, 7]);
    // without sources every input is its own source
    const [c, d] = sourceHalves({ files: [], inputs: inputs.slice(0, 3), size: 1 })!;
    expect([c.inputs.length, d.inputs.length]).toEqual([2, 1]);
    expect(sourceHalves({ files: [], inputs, size: 1, sources: inputs.map(() => 7) })).toBeUndefined();
  });

  it('keeps a recalibration only where it gains held back and in-sample', () => {
    expect(keepRecalibration({ loss: { before: 0.5, after: 0.3 }, heldBack: { before: 0.6, after: 0.9 } })).toBe(false);
    expect(keepRecalibration({ loss: { before: 0.5, after: 0.3 }, heldBack: { before: 0.6, after: 0.4 } })).toBe(true);
    expect(keepRecalibration({ loss: { before: 0.5, after: 0.6 }, heldBack: { before: 0.6, after: 0.4 } })).toBe(false);
    // one source: nothing held back, the in-sample check decides
    expect(keepRecalibration({ loss: { before: 0.5, after: 0.3 } })).toBe(true);
    expect(keepRecalibration({ loss: { before: 0.5, after: 0.5 } })).toBe(false);
    expect(keepRecalibration({ loss: { before: 0.5 }, heldBack: { before: 0.6, after: 0.9 } })).toBe(false);
  });

  it('refuses a recalibration whose gain is only in-sample', async () => {
    const { model, pruned, index, plan, calibration } = await linearCut((s) => (s === 0 ? 1 : -1));
    // the guard before issue 21 judged the fit on the inputs it came from, and would have kept it
    const { model: fitted } = await recalibrateStatistics(index.dep, { removed: plan.removed }, pruned, calibration);
    const inSample = { before: await loss(model, calibration, pruned), after: await loss(model, calibration, fitted) };
    expect(inSample.after).toBeLessThan(inSample.before);
    const guarded = await recalibrateIfBetter(index.dep, { removed: plan.removed }, pruned, calibration, { heldBack: true });
    const heldBack = guarded.report.heldBack!;
    expect(heldBack.after).toBeGreaterThan(heldBack.before);
    expect(guarded.report.applied).toBe(false);
    expect(guarded.report.loss).toEqual({ before: inSample.before });
    expect(guarded.model).toBe(pruned);
  }, 60_000);

  it('keeps it where both halves of the sources gain from each other', async () => {
    const { model, pruned, index, plan, calibration } = await linearCut(() => 1);
    const guarded = await recalibrateIfBetter(index.dep, { removed: plan.removed }, pruned, calibration, { heldBack: true });
    const heldBack = guarded.report.heldBack!;
    expect(heldBack.after).toBeLessThan(heldBack.before);
    expect(guarded.report.loss.after).toBeLessThan(guarded.report.loss.before);
    expect(guarded.report.applied).toBe(true);
    expect(guarded.model).not.toBe(pruned);
    expect(await loss(model, calibration, guarded.model)).toBeCloseTo(guarded.report.loss.after!, 9);
  }, 60_000);
});
