import { describe, expect, it } from 'vitest';
import { buildYolov8 } from '../../../compress/yolo/builder.js';
import { factorizeModel, planDataAware, planFactorization, type FactorizationPlan } from '../../../compress/factorize/factorize.js';
import type { CalibrationSet } from '../../../compress/calibration.js';
import { FACTOR_METHODS, type FactorMethod } from '../../../compress/factorize/layer.js';
import { checkModel } from '../../../compress/onnx/check.js';
import { modelCost } from '../../../compress/cost.js';
import { syntheticImage } from '../onnx/helpers.js';
import { outputOf, relativeError } from './helpers.js';

describe('whole builder yolov8n', () => {
  const model = buildYolov8({ scale: 'n', imgsz: 160 });
  const input = syntheticImage(160);
  // Plans hold the SVDs, the slow part: one per method for the whole suite.
  const plans = new Map<FactorMethod, FactorizationPlan>();
  const planFor = (method: FactorMethod) => plans.get(method) ?? plans.set(method, planFactorization(model, method, 1)).get(method)!;

  for (const method of FACTOR_METHODS) {
    it(`${method} at full rank on every 3×3 conv reproduces the outputs`, async () => {
      const plan = planFor(method);
      expect(plan.layers.length).toBe(39);
      expect(plan.layers.some((l) => l.target.strides[0] === 2)).toBe(true);
      const ranks = new Map(plan.layers.map((l) => [l.target.name, l.exactRank]));
      const { model: out } = await factorizeModel(model, { method, flopsCut: 0, ranks, plan });
      expect(checkModel(out)).toEqual({ ok: true, problems: [] });
      const [want, got] = [await outputOf(model, input), await outputOf(out, input)];
      expect(got.dims).toEqual(want.dims);
      expect(relativeError(got, want)).toBeLessThanOrEqual(1e-5);
    });

    it(`${method} at a 20% FLOPs cut is well formed, runs, and meets the cut`, async () => {
      const { model: out, report } = await factorizeModel(model, { method, flopsCut: 0.2, plan: planFor(method) });
      expect(checkModel(out).problems).toEqual([]);
      expect(report.cut).toBeGreaterThanOrEqual(0.2 - 1e-9);
      expect(report.cut).toBeLessThan(0.3);
      expect(modelCost(out).flops).toBe(report.flopsAfter);
      expect(report.layers.length).toBeGreaterThan(0);
      for (const l of report.layers) {
        expect(l.flopsAfter).toBeLessThan(l.flopsBefore);
        expect(l.energy).toBeGreaterThan(0);
        expect(l.energy).toBeLessThanOrEqual(1);
      }
      if (method === 'spatial' || method === 'lowrank') expect(report.layers.filter((l) => l.rank % 8 !== 0).length).toBeLessThanOrEqual(report.layers.length / 4);
      const got = await outputOf(out, input);
      expect(got.dims).toEqual([1, 84, 525]);
      expect((got.data as Float32Array).every(Number.isFinite)).toBe(true);
    });
  }

  // Calibration images for the data-aware variants: the synthetic pattern, shifted per image.
  const calibration: CalibrationSet = {
    files: [],
    size: 160,
    inputs: [0, 1].map((k) => Float32Array.from(input.data as Float32Array, (v, i) => (v + 0.1 * k * Math.sin(i / (50 + 7 * k))) % 1)),
  };

  // lowrank's data-aware path is the same code on k×k patches (C_in·9 features, slow on 256 channels): see data-aware.test.ts
  for (const method of ['spatial'] as const) {
    it(`data-aware ${method}, asymmetric, reproduces the outputs at full rank and meets a 20% cut`, async () => {
      // convs of ≥ 64 channels only: the asymmetric fit runs the model once per wave of layers
      const plan = await planDataAware(model, method, calibration, 64);
      expect(plan.dataAware).toBe(true);
      const ranks = new Map(plan.layers.map((l) => [l.target.name, l.exactRank]));
      const { model: exact, report } = await factorizeModel(model, { method, flopsCut: 0, ranks, plan, dataAware: { calibration, asymmetric: true } });
      expect(report).toMatchObject({ dataAware: true, asymmetric: true });
      const [want, got] = [await outputOf(model, input), await outputOf(exact, input)];
      expect(relativeError(got, want)).toBeLessThanOrEqual(1e-5);
      const { model: cut, report: r } = await factorizeModel(model, { method, flopsCut: 0.2, plan, dataAware: { calibration } });
      expect(checkModel(cut).problems).toEqual([]);
      expect(r.cut).toBeGreaterThanOrEqual(0.2 - 1e-9);
      expect(r.allocation).toBe('error');
      expect((await outputOf(cut, input)).dims).toEqual([1, 84, 525]);
    }, 120_000);
  }

  it('recalibrates the rewritten convs and those after them, and keeps the result only where it agrees better', async () => {
    const calibration: CalibrationSet = { files: ['synthetic'], inputs: [syntheticImage(160).data as Float32Array], size: 160 };
    const plan = planFor('dws');
    const { model: plain } = await factorizeModel(model, { method: 'dws', flopsCut: 0.3, plan });
    const { model: out, report } = await factorizeModel(model, { method: 'dws', flopsCut: 0.3, plan, recalibrate: { calibration } });
    const r = report.recalibration!;
    // every rewritten conv output and every conv after one, less the Detect head's read-out convs
    expect(r.convs).toBeGreaterThan(report.layers.length);
    // one calibration input is one source: nothing to hold back, the guard judges in-sample
    expect(r.heldBack).toBeUndefined();
    expect(r.applied).toBe(r.loss.after! < r.loss.before);
    expect(checkModel(out).problems).toEqual([]);
    const [before, after] = [await outputOf(plain, input), await outputOf(out, input)];
    if (r.applied) expect(relativeError(after, before)).toBeGreaterThan(0);
    else expect(relativeError(after, before)).toBe(0);
  });

  it('refuses a cut no allocation can reach', async () => {
    await expect(factorizeModel(model, { method: 'spatial', flopsCut: 0.9, plan: planFor('spatial') })).rejects.toThrow(/out of reach/);
  });

  it('allocates by measured sensitivity: every level judged against the base model, the cut met', async () => {
    const calibration: CalibrationSet = { files: ['synthetic'], inputs: [syntheticImage(160).data as Float32Array], size: 160 };
    const plan = planFor('spatial');
    const { report } = await factorizeModel(model, { method: 'spatial', flopsCut: 0.1, plan, sensitivity: { calibration } });
    expect(report.allocation).toBe('sensitivity');
    expect(report.cut).toBeGreaterThanOrEqual(0.1 - 1e-9);
    const levels = report.sensitivity!.flatMap((l) => l.levels);
    expect(levels.length).toBeGreaterThanOrEqual(plan.layers.length);
    for (const l of levels) {
      expect(l.loss).toBeCloseTo(1 - l.fidelity + l.discrepancy, 9);
      expect(l.discrepancy).toBeGreaterThanOrEqual(0);
    }
  }, 60_000);
});
