import { describe, expect, it } from 'vitest';
import { dataAwareFactorization, weightFactorization } from '../../../compress/factorize/data-aware.js';
import { allocateByEnergy, allocateByError } from '../../../compress/factorize/allocate.js';
import type { PatchStatistics } from '../../../compress/factorize/input-stats.js';
import type { LayerFactorizer } from '../../../compress/factorize/layer.js';
import { factorizeModel, planDataAware, planFactorization } from '../../../compress/factorize/factorize.js';
import { checkModel } from '../../../compress/onnx/check.js';
import ort from 'onnxruntime-node';
import { oneConvModel, outputOf, relativeError, seeded } from './helpers.js';

/** Statistics of inputs x = A·z + μ with z white: covariance A·Aᵀ, strongly anisotropic. */
function correlatedStats(d: number): PatchStatistics & { A: Float64Array } {
  const A = Float64Array.from(seeded(d * d, 21), (v, k) => v * 0.3 ** (k % d)); // column j scaled by 0.3^j
  const covariance = new Float64Array(d * d);
  for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) for (let k = 0; k < d; k++) covariance[i * d + j] += A[i * d + k] * A[j * d + k];
  return { d, n: 1000, mean: Float64Array.from(seeded(d, 22)), covariance, A };
}

/** E‖(M − M̂)(x − μ)‖² = tr(Δ·Σ·Δᵀ), and the mean's error after the bias shift. */
function outputError(M: Float64Array, rows: number, cols: number, f: { left: Float64Array; right: Float64Array; biasShift?: Float64Array }, rank: number, s: PatchStatistics): { variance: number; mean: number } {
  const delta = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let c = 0; c < cols; c++) {
    let v = 0;
    for (let r = 0; r < rank; r++) v += f.left[i * rank + r] * f.right[c * rank + r];
    delta[i * cols + c] = M[i * cols + c] - v;
  }
  let variance = 0, mean = 0;
  for (let i = 0; i < rows; i++) {
    for (let a = 0; a < cols; a++) for (let b = 0; b < cols; b++) variance += delta[i * cols + a] * s.covariance[a * cols + b] * delta[i * cols + b];
    let m = -(f.biasShift?.[i] ?? 0);
    for (let c = 0; c < cols; c++) m += delta[i * cols + c] * s.mean[c];
    mean += m * m;
  }
  return { variance, mean };
}

describe('data-aware factorization', () => {
  const rows = 10, cols = 8;
  const M = Float64Array.from(seeded(rows * cols, 5));
  const stats = correlatedStats(cols);

  it('is exact at full rank and keeps the mean output through the bias at every rank', () => {
    const f = dataAwareFactorization(M, rows, cols, stats);
    expect(f.full).toBe(8);
    const full = outputError(M, rows, cols, f.factors(8), 8, stats);
    expect(full.variance).toBeLessThan(1e-18);
    for (const rank of [1, 3, 6]) expect(outputError(M, rows, cols, f.factors(rank), rank, stats).mean).toBeLessThan(1e-20);
    expect(f.energy[7]).toBeCloseTo(1, 12);
  });

  it('loses less output variance than the weight SVD at the same rank, as its energy says', () => {
    const aware = dataAwareFactorization(M, rows, cols, stats);
    const plain = weightFactorization(M, rows, cols);
    let total = 0;
    for (let i = 0; i < rows; i++) for (let a = 0; a < cols; a++) for (let b = 0; b < cols; b++) total += M[i * cols + a] * stats.covariance[a * cols + b] * M[i * cols + b];
    for (const rank of [1, 2, 4]) {
      const a = outputError(M, rows, cols, aware.factors(rank), rank, stats).variance;
      const p = outputError(M, rows, cols, plain.factors(rank), rank, stats).variance;
      expect(a).toBeLessThan(p);
      // the kept fraction is of the output variance (up to the covariance's small shrinkage)
      expect(1 - a / total).toBeCloseTo(aware.energy[rank - 1], 2);
    }
  });

  it('asymmetric statistics with x̂ = x reduce to the symmetric factorization', () => {
    const sym = dataAwareFactorization(M, rows, cols, stats);
    const asym = dataAwareFactorization(M, rows, cols, { ...stats, cross: stats.covariance, originalMean: stats.mean });
    const [a, b] = [sym.factors(3), asym.factors(3)];
    // the same product L·Rᵀ (factors may differ by sign)
    for (let i = 0; i < rows; i++) for (let c = 0; c < cols; c++) {
      let x = 0, y = 0;
      for (let r = 0; r < 3; r++) {
        x += a.left[i * 3 + r] * a.right[c * 3 + r];
        y += b.left[i * 3 + r] * b.right[c * 3 + r];
      }
      expect(y).toBeCloseTo(x, 9);
    }
  });
});

describe('allocation by error per FLOP', () => {
  /** A layer of 1000 FLOPs whose rank r costs 100·r and keeps energy(r). */
  const layer = (name: string, energy: (r: number) => number): LayerFactorizer => ({
    target: { name, flops: 1000 } as LayerFactorizer['target'],
    method: 'lowrank',
    options: Array.from({ length: 9 }, (_, i) => ({ rank: i + 1, flops: 100 * (i + 1), energy: energy(i + 1) })),
    exactRank: 10,
    channelRank: false,
    build: () => ({ convs: [] }),
  });
  const steep = layer('steep', (r) => 1 - 0.5 ** r); // easy to approximate
  const flat = layer('flat', (r) => r / 10); // every rank costs the same energy

  it('takes the cut from the layer that loses least per FLOP and meets the budget', () => {
    const a = allocateByError([steep, flat], 1200);
    expect(a.flops).toBeLessThanOrEqual(1200);
    const [s, f] = a.choices.map((c) => c.option?.rank ?? 10);
    expect(s).toBeLessThan(f);
    const e = allocateByEnergy([steep, flat], 1200);
    const lossOf = (cs: typeof a.choices) => cs.reduce((sum, c) => sum + (1 - (c.option?.energy ?? 1)), 0);
    expect(lossOf(a.choices)).toBeLessThanOrEqual(lossOf(e.choices) + 1e-12);
  });
});

describe('data-aware factorization of a conv on images', () => {
  // Smooth, channel-correlated images (as natural images are): input patches far from white.
  const image = (phase: number) =>
    Float32Array.from({ length: 3 * 24 * 24 }, (_, i) => {
      const c = Math.floor(i / 576), y = Math.floor((i % 576) / 24), x = i % 24;
      return Math.sin(x / 5 + phase) * Math.cos(y / 7 - phase) + 0.2 * c + 0.05 * Math.sin(x * y + c + phase);
    });
  const calibration = { files: [], size: 24, inputs: [0, 1, 2].map(image) };
  const model = oneConvModel({ cin: 3, cout: 16, k: 3, stride: 2, pads: [1, 1, 1, 1], size: 24 });
  const probe = new ort.Tensor('float32', image(0.5), [1, 3, 24, 24]);

  for (const method of ['spatial', 'lowrank'] as const) {
    it(`${method}: exact at full rank, and closer to the conv than the weight SVD on inputs like its calibration`, async () => {
      const aware = await planDataAware(model, method, calibration, 1);
      const plain = planFactorization(model, method, 1);
      const name = 'conv';
      const full = aware.layers[0].exactRank;
      const want = await outputOf(model, probe);
      const exact = await factorizeModel(model, { method, flopsCut: 0, ranks: new Map([[name, full]]), plan: aware });
      expect(checkModel(exact.model).ok).toBe(true);
      expect(relativeError(await outputOf(exact.model, probe), want)).toBeLessThanOrEqual(1e-5);
      const rank = method === 'spatial' ? 2 : 3;
      const a = await factorizeModel(model, { method, flopsCut: 0, ranks: new Map([[name, rank]]), plan: aware });
      const p = await factorizeModel(model, { method, flopsCut: 0, ranks: new Map([[name, rank]]), plan: plain });
      expect(a.report.dataAware).toBe(true);
      expect(relativeError(await outputOf(a.model, probe), want)).toBeLessThan(0.5 * relativeError(await outputOf(p.model, probe), want));
    });
  }
});
