// The substitution guard (on by default): each tensor's substitution is
// fitted on one half of the calibration sources and judged on the other, both
// ways, and kept only where the agreement loss falls.
import { describe, expect, it } from 'vitest';
import type { CalibrationSet } from '../../../compress/calibration.js';
import { pruneModel } from '../../../compress/prune/prune.js';
import { readLineage } from '../../../compress/lineage.js';
import { linearCut, loss } from './guard-cases.js';
import { Net, seeded } from './helpers.js';

const options = { method: 'l1' as const, ratio: 0.5, roundTo: 1, reconstruct: true, recalibrate: false, ignore: [/^Conv_v1$/, /^Conv_v2$/] };

describe('substitution guard on held-back calibration sources', () => {
  it('keeps substitution where the regressions fitted on one half of the sources agree better on the other half', async () => {
    // four sources at +1, +1, −1, −1: each half holds one of each. Every channel of the first conv is an affine
    // function of the three input channels, so the four kept ones predict the four removed ones on any input
    const { model, calibration } = await linearCut((s) => (s < 2 ? 1 : -1), 4);
    const guarded = await pruneModel(model, { ...options, calibration });
    const guard = guarded.report.recovery.guard!;
    expect(guard.heldBack).toBe(true);
    expect(guard.tensors).toHaveLength(1);
    expect(guard.tensors[0].kept).toBe(true);
    expect(guard.tensors[0].after).toBeLessThan(guard.tensors[0].before / 10);
    expect(guarded.report.recovery.convs).toBe(1);
    const unguarded = await pruneModel(model, { ...options, calibration, substitutionGuard: false });
    expect(unguarded.report.recovery.guard).toBeUndefined();
    expect(unguarded.report.recovery.convs).toBe(1);
  }, 60_000);

  it('refuses substitution whose gain is only in-sample, and leaves the cut bare', async () => {
    // two sources at +1 and −1: each half is one source, one cross-validation fold, so its ridge takes the
    // strongest strength and the fit is the removed channels' mean on that source; the removed term is about +δ
    // on one source and −δ on the other, so the other half sees 2δ where the bare cut left δ
    const { model, calibration } = await linearCut((s) => (s === 0 ? 1 : -1));
    const guarded = await pruneModel(model, { ...options, calibration });
    const [verdict] = guarded.report.recovery.guard!.tensors;
    expect(verdict.after).toBeGreaterThan(verdict.before);
    expect(verdict.kept).toBe(false);
    expect(guarded.report.recovery.convs).toBe(0);
    const bare = await pruneModel(model, { method: 'l1', ratio: 0.5, roundTo: 1, ignore: options.ignore });
    expect(await loss(model, calibration, guarded.model)).toBe(await loss(model, calibration, bare.model));
    // fitted on both sources the regression is exact, so in-sample it would have looked like a win
    const unguarded = await pruneModel(model, { ...options, calibration, substitutionGuard: false });
    expect(await loss(model, calibration, unguarded.model)).toBeLessThan(await loss(model, calibration, bare.model));
  }, 60_000);

  it('judges each tensor on its own: keeps the branch whose regression carries over, refuses the one whose does not', async () => {
    // Two branches on the same image, each cut in half: a 1×1 conv (its channels are affine in the three input
    // channels, so the kept ones predict the removed ones on any input) and a 3×3 conv (27 inputs per output: the
    // kept channels do not pin the removed ones, and their fit falls back to the removed channels' mean). The
    // images of one half of the sources sit at +1, the other half's at −1, so the 3×3 branch's mean fitted on one
    // half is wrong on the other, about twice as far as leaving the channels out.
    const size = 8;
    const net = new Net();
    const a = net.conv('images', 3, 8, 1);
    const d = net.conv('images', 3, 8, 3);
    const b = net.conv(a, 8, 4, 1);
    const e = net.conv(d, 8, 4, 1);
    const out = net.op('Concat', [b, e], { axis: { type: 'int', value: 1 } })[0];
    const model = net.model(out, size);
    // sourceHalves puts sources 0 and 2 in one half, 1 and 3 in the other
    const sign = [1, -1, 1, -1];
    const folds = [0, 0, 1, 1, 2, 2, 3, 3];
    const input = (source: number, seed: number) => seeded(3 * size * size, seed, 1).map((v) => v + sign[source]);
    const calibration: CalibrationSet = { files: ['0.jpg', '1.jpg', '2.jpg', '3.jpg'], inputs: folds.map((f, i) => input(f, i + 1)), size, sources: folds };
    const ignore = [new RegExp(`^Conv_${b}$`), new RegExp(`^Conv_${e}$`)];
    const guarded = await pruneModel(model, { method: 'l1', ratio: 0.5, roundTo: 1, ignore, reconstruct: true, recalibrate: false, calibration });
    const verdicts = Object.fromEntries(guarded.report.recovery.guard!.tensors.map((t) => [t.tensor, t]));
    expect(Object.keys(verdicts).sort()).toEqual([a, d].sort());
    expect(verdicts[a].kept).toBe(true);
    expect(verdicts[d].kept).toBe(false);
    expect(verdicts[d].after).toBeGreaterThan(verdicts[d].before);
    expect(guarded.report.recovery).toMatchObject({ tensors: 1, convs: 1 });
    // the lineage names what the guard kept and refused
    expect(readLineage(guarded.model)!.steps[0].params).toMatchObject({ recovery: 'substitution', substituted: [a], refused: [d] });
    // the bare cut, and every substitution: the guard's choice agrees better with the base on the calibration inputs than the bare cut
    const bare = await pruneModel(model, { method: 'l1', ratio: 0.5, roundTo: 1, ignore, calibration });
    expect(await loss(model, calibration, guarded.model)).toBeLessThan(await loss(model, calibration, bare.model));
  }, 60_000);
});
