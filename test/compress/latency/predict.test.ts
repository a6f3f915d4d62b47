import { describe, expect, it } from 'vitest';
import type { NodeShape } from '../../../compress/latency/features.js';
import { fitPredictor, kindModelOf, leaveOneOut, meanAbsPctError, predictLatency, predictionErrorPct, type TrainingProfile } from '../../../compress/latency/predict.js';

// Known per-kind truths: µs = intercept + Σ weight·feature. Conv features are
// [MACs, output elements, input elements, weights]; others [output, input elements].
const TRUTH: Record<string, { w: number[]; b: number }> = {
  'Conv/fp32/3x3/c16': { w: [2e-6, 1e-3, 5e-4, 2e-4], b: 5 },
  'Conv/fp32/1x1/c16': { w: [1.5e-6, 2e-3, 1e-4, 0], b: 3 },
  'Sigmoid/fp32': { w: [4e-3, 0], b: 1 },
};
const SCALE = 1.1;
const CONSTANT_MS = 0.7;

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
}

function kindsOf(kind: string): string[] {
  const parts = kind.split('/');
  return parts.map((_, i) => parts.slice(0, parts.length - i).join('/'));
}

const truthUs = (kind: string, x: number[]) => TRUTH[kind].b + TRUTH[kind].w.reduce((s, w, i) => s + w * x[i], 0);

/** A synthetic candidate: `n` nodes of each kind with independent random shapes at a size factor. */
function candidate(seed: number, size: number, n = 12): { shapes: NodeShape[]; profile: TrainingProfile } {
  const r = rng(seed);
  const shapes: NodeShape[] = [];
  for (const kind of Object.keys(TRUTH)) {
    for (let i = 0; i < n; i++) {
      const x = kind.startsWith('Conv') ? [size * (1e6 + 5e7 * r()), size * (1e3 + 2e5 * r()), size * (1e3 + 2e5 * r()), 1e3 + 1e5 * r()] : [size * (1e3 + 3e5 * r()), size * (1e3 + 3e5 * r())];
      shapes.push({ node: `${kind}#${seed}.${i}`, op: kind.split('/')[0], kinds: kindsOf(kind), x });
    }
  }
  const nodeUs = new Map(shapes.map((s) => [s.node, truthUs(s.kinds[0], s.x)]));
  const sumMs = [...nodeUs.values()].reduce((s, v) => s + v, 0) / 1000;
  return { shapes, profile: { shapes, nodeUs, measuredMs: SCALE * sumMs + CONSTANT_MS } };
}

describe('latency predictor', () => {
  const training = [candidate(1, 1), candidate(2, 0.6), candidate(3, 0.35), candidate(4, 1.4)];
  const predictor = fitPredictor(training.map((c) => c.profile), { lambda: 1e-10, rescale: false });

  it('recovers every kind\'s true coefficients from noise-free profiles', () => {
    for (const [kind, truth] of Object.entries(TRUTH)) {
      const m = predictor.kinds.get(kind)!;
      expect(m.samples).toBe(12 * training.length);
      expect(m.intercept).toBeCloseTo(truth.b, 3);
      m.weights.forEach((w, i) => expect(w).toBeCloseTo(truth.w[i], 9));
    }
    expect(predictor.scale).toBeCloseTo(SCALE, 6);
    expect(predictor.constantMs).toBeCloseTo(CONSTANT_MS, 4);
  });

  it('predicts a candidate it was not fitted on, as the sum over its nodes on the whole-model line', () => {
    const unseen = candidate(99, 0.8);
    const p = predictLatency(predictor, unseen.shapes);
    expect(p.unseen).toEqual([]);
    expect(Math.abs(predictionErrorPct(p.ms, unseen.profile.measuredMs))).toBeLessThan(0.01);
  });

  it('stays within a few percent under 5% measurement noise', () => {
    const r = rng(7);
    const noisy = training.map(({ profile }) => ({ ...profile, nodeUs: new Map([...profile.nodeUs].map(([k, v]) => [k, v * (1 + 0.1 * (r() - 0.5))])) }));
    const fitted = fitPredictor(noisy, { rescale: false });
    const tests = [candidate(50, 0.5), candidate(51, 1.2), candidate(52, 0.9)];
    const mape = meanAbsPctError(tests.map((t) => ({ predictedMs: predictLatency(fitted, t.shapes).ms, measuredMs: t.profile.measuredMs })));
    expect(mape).toBeLessThan(3);
  });

  it('falls back to a more general kind, and names a kind it cannot predict', () => {
    const spatial: NodeShape = { node: 'f', op: 'Conv', kinds: ['Conv/fp32/3x1/odd', 'Conv/fp32/3x1', 'Conv/fp32', 'Conv'], x: [1e7, 1e4, 1e4, 1e3] };
    expect(kindModelOf(predictor, spatial)!.kind).toBe('Conv/fp32');
    const resize: NodeShape = { node: 'r', op: 'Resize', kinds: ['Resize/fp32', 'Resize'], x: [1e5, 2.5e4] };
    const p = predictLatency(predictor, [spatial, resize]);
    expect(p.unseen).toEqual(['Resize/fp32']);
    expect(p.nodesMs).toBeGreaterThan(0);
  });

  it('scores itself on every profiled candidate, each predicted from the others only', () => {
    const profiles = [candidate(1, 1), candidate(2, 0.6), candidate(3, 0.35), candidate(4, 1.4)].map((c, i) => ({ id: `c${i}`, ...c.profile }));
    const scores = leaveOneOut(profiles, { lambda: 1e-10, rescale: false });
    expect(scores.map((s) => [s.id, s.fittedOn])).toEqual([['c0', 3], ['c1', 3], ['c2', 3], ['c3', 3]]);
    for (const s of scores) {
      expect(s.errorPct).toBeCloseTo(predictionErrorPct(s.predictedMs!, s.measuredMs), 12);
      expect(Math.abs(s.errorPct!)).toBeLessThan(0.01);
    }
    // held out means held out: a candidate whose measurement is off by 50% keeps its own error
    const off = profiles.map((p, i) => (i === 2 ? { ...p, measuredMs: p.measuredMs * 1.5 } : p));
    const c2 = leaveOneOut(off, { lambda: 1e-10, rescale: false })[2];
    expect(c2.errorPct!).toBeCloseTo(100 * (1 / 1.5 - 1), 1);
    // two profiles leave one to fit on: no prediction
    expect(leaveOneOut(profiles.slice(0, 2)).map((s) => s.predictedMs)).toEqual([null, null]);
  });

  it('fits node times rescaled to each candidate\'s measured latency: a profile taken under another load still says where the time goes', () => {
    // each profile ran while the machine was slower by its own factor; the measurement (interleaved) is the truth: Σ true node µs
    const loads = [2.0, 1.0, 2.5, 0.7];
    const profiles = training.map(({ profile }, i) => {
      const trueMs = [...profile.nodeUs.values()].reduce((s, v) => s + v, 0) / 1000;
      return { ...profile, nodeUs: new Map([...profile.nodeUs].map(([k, v]) => [k, v * loads[i]])), measuredMs: trueMs };
    });
    const unseen = candidate(99, 0.8);
    const truthMs = [...unseen.profile.nodeUs.values()].reduce((s, v) => s + v, 0) / 1000;
    // rescaled by 1/load, every node is its true time again: the fit recovers the truth and the line is the identity
    const rescaled = fitPredictor(profiles, { lambda: 1e-10 });
    const m = rescaled.kinds.get('Conv/fp32/3x3/c16')!;
    expect(m.intercept).toBeCloseTo(TRUTH['Conv/fp32/3x3/c16'].b, 3);
    m.weights.forEach((w, i) => expect(w).toBeCloseTo(TRUTH['Conv/fp32/3x3/c16'].w[i], 9));
    expect(rescaled.scale).toBeCloseTo(1, 6);
    expect(Math.abs(predictionErrorPct(predictLatency(rescaled, unseen.shapes).ms, truthMs))).toBeLessThan(0.01);
    // without it the per-candidate load factors are noise no kind model can fit
    const raw = fitPredictor(profiles, { lambda: 1e-10, rescale: false });
    expect(Math.abs(predictionErrorPct(predictLatency(raw, unseen.shapes).ms, truthMs))).toBeGreaterThan(1);
  });

  it('refuses to fit on nothing, and measures its error as defined', () => {
    expect(() => fitPredictor([])).toThrow(/no profiled candidates/);
    expect(predictionErrorPct(11, 10)).toBeCloseTo(10, 12);
    expect(meanAbsPctError([{ predictedMs: 9, measuredMs: 10 }, { predictedMs: 12, measuredMs: 10 }])).toBeCloseTo(15, 12);
  });
});
