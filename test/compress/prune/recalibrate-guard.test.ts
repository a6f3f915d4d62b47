// The held-back guards (opt-in: recalibrateIfBetter's heldBack, pruneModel's
// substitutionGuard) judge on calibration sources the fit did not see. A constructed case where the gain is only in-sample: a linear
// net (three 1×1 convs) whose first conv loses half its channels, calibrated
// on two source images that sit at +1 and −1. The second conv's output then
// misses a term that is +δ on one source and about −δ on the other. Fitted on
// both sources the per-channel scale nearly undoes the cut (the two clusters'
// spread is the term's sign), so the in-sample check sees a gain; fitted on
// one source, the shift it learns (+δ) is exactly wrong on the other (−δ),
// so held back it loses.
import { describe, expect, it } from 'vitest';
import { AgreementJudge } from '../../../compress/agreement.js';
import type { CalibrationSet } from '../../../compress/calibration.js';
import type { Model } from '../../../compress/onnx/ir.js';
import { pruneModel } from '../../../compress/prune/prune.js';
import { sourceHalves } from '../../../compress/calibration.js';
import { keepRecalibration, recalibrateIfBetter, recalibrateStatistics } from '../../../compress/prune/recalibrate.js';
import { Net, seeded } from './helpers.js';

const size = 8;

/** The linear net cut, calibrated on two inputs per source image; `sign` places each source's inputs at +1 or −1. */
async function linearCut(sign: (source: number) => number, sources = 2) {
  const net = new Net();
  const a = net.conv('images', 3, 8, 1);
  const b = net.conv(a, 8, 8, 1);
  const c = net.conv(b, 8, 4, 1);
  const model = net.model(c, size);
  const input = (source: number, seed: number) => seeded(3 * size * size, seed, 0.2).map((x) => x + sign(source));
  const folds = Array.from({ length: 2 * sources }, (_, i) => i >> 1);
  const calibration: CalibrationSet = { files: folds.filter((_, i) => i % 2 === 0).map((f) => `${f}.jpg`), inputs: folds.map((f, i) => input(f, i + 1)), size, sources: folds };
  // only the first conv's output channels go
  const { model: pruned, index, plan } = await pruneModel(model, { method: 'l1', ratio: 0.5, roundTo: 1, ignore: [new RegExp(`^Conv_${b}$`), new RegExp(`^Conv_${c}$`)] });
  expect(plan.removed.size).toBe(4);
  return { model, pruned, index, plan, calibration };
}

async function loss(base: Model, calibration: CalibrationSet, candidate: Model): Promise<number> {
  return (await (await AgreementJudge.create(base, calibration)).judge(candidate)).loss;
}

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

describe('substitution guard on held-back calibration sources', () => {
  const options = { method: 'l1' as const, ratio: 0.5, roundTo: 1, reconstruct: true, recalibrate: false, substitutionGuard: true, ignore: [/^Conv_v1$/, /^Conv_v2$/] };

  it('keeps substitution where the regressions fitted on one half of the sources agree better on the other half', async () => {
    // four sources at +1, +1, −1, −1: each half holds one of each. Every channel of the first conv is an affine
    // function of the three input channels, so the four kept ones predict the four removed ones on any input
    const { model, calibration } = await linearCut((s) => (s < 2 ? 1 : -1), 4);
    const guarded = await pruneModel(model, { ...options, calibration });
    const heldBack = guarded.report.recovery.heldBack!;
    expect(heldBack.kept).toBe(true);
    expect(heldBack.after).toBeLessThan(heldBack.before / 10);
    expect(guarded.report.recovery.convs).toBe(1);
    const unguarded = await pruneModel(model, { ...options, calibration, substitutionGuard: false });
    expect(unguarded.report.recovery.heldBack).toBeUndefined();
    expect(unguarded.report.recovery.convs).toBe(1);
  }, 60_000);

  it('refuses substitution whose gain is only in-sample, and leaves the cut bare', async () => {
    // two sources at +1 and −1: each half is one source, one cross-validation fold, so its ridge takes the
    // strongest strength and the fit is the removed channels' mean on that source; the removed term is about +δ
    // on one source and −δ on the other, so the other half sees 2δ where the bare cut left δ
    const { model, calibration } = await linearCut((s) => (s === 0 ? 1 : -1));
    const guarded = await pruneModel(model, { ...options, calibration });
    const heldBack = guarded.report.recovery.heldBack!;
    expect(heldBack.after).toBeGreaterThan(heldBack.before);
    expect(heldBack.kept).toBe(false);
    expect(guarded.report.recovery.convs).toBe(0);
    const bare = await pruneModel(model, { method: 'l1', ratio: 0.5, roundTo: 1, ignore: options.ignore });
    expect(await loss(model, calibration, guarded.model)).toBe(await loss(model, calibration, bare.model));
    // fitted on both sources the regression is exact, so in-sample it would have looked like a win
    const unguarded = await pruneModel(model, { ...options, calibration, substitutionGuard: false });
    expect(await loss(model, calibration, unguarded.model)).toBeLessThan(await loss(model, calibration, bare.model));
  }, 60_000);
});
