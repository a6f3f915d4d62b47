// The latency predictor (nn-Meter's idea on edgefit's terms): from operator
// profiles of candidates already measured on one device class and provider,
// a ridge regression per node kind of the node's time on its shape features
// (features.ts), and for a candidate never profiled there the sum of its
// nodes' predicted times, mapped to a whole-model latency by a per-model line
// fitted on the profiled candidates (time outside kernels, and the profiler's
// own overhead, which the plain measurement does not have). Pure functions.
//
// A node kind never seen in the profiles falls back to a more general kind
// (Conv/int8/3x1/odd → Conv/int8/3x1 → Conv/int8 → Conv); a node whose every
// kind is unseen is predicted 0 and named in `unseen`. Nodes of a profiled
// model that did not run on their own (fused into a neighbour, whose time
// carries theirs) count as 0 s samples of their kind: the fit learns how often
// a kind runs apart, as a candidate of the same family will.
import { RidgeStats } from '../linalg/ridge.js';
import type { NodeShape } from './features.js';

export interface KindModel {
  kind: string;
  samples: number;
  /** Per-feature scale the fit ran at (RMS over the samples); weights below are in the features' own units. */
  weights: number[];
  /** µs per node. */
  intercept: number;
}

export interface LatencyPredictor {
  kinds: Map<string, KindModel>;
  /** Whole-model ms = scale × Σ node µs / 1000 + constantMs. */
  scale: number;
  constantMs: number;
  /** How many profiled candidates the fit saw. */
  profiles: number;
}

export interface TrainingProfile {
  shapes: NodeShape[];
  /** Time per model node, µs per run (own + absorbed); nodes missing here ran 0. */
  nodeUs: ReadonlyMap<string, number>;
  /** The whole model's measured latency, ms (the plain measurement, not the profiled runs). */
  measuredMs: number;
}

export interface FitOptions {
  /** Ridge strength relative to the scaled Gram matrix' mean diagonal (default 1e-4). */
  lambda?: number;
  /** Fewest samples for a kind to get its own model (default 3). */
  minSamples?: number;
  /**
   * Rescale each profile's node times so that they add up to its measured
   * latency before fitting (default true). The profile runs in its own
   * session at another moment than the measurement; on the shared 2-core VM
   * at load 10 the kernels of the twelve fit-set candidates summed to 0.58–1.25×
   * their interleaved measurement, a per-candidate factor no per-kind model
   * can fit (in-sample MAPE 13.1% without, see bench/latency-predictor.bench.ts).
   * The profile then says where the time goes, the measurement how much there is.
   */
  rescale?: boolean;
}

function fitKind(kind: string, xs: number[][], ys: number[], lambda: number): KindModel {
  const d = xs[0].length;
  const scale = new Array<number>(d).fill(0);
  for (const x of xs) for (let i = 0; i < d; i++) scale[i] += x[i] * x[i];
  for (let i = 0; i < d; i++) scale[i] = Math.sqrt(scale[i] / xs.length) || 1;
  const stats = new RidgeStats(d, 1);
  const row = new Float64Array(d);
  // all samples in one group: no cross-validation here, RidgeStats only adds them up
  xs.forEach((x, k) => {
    for (let i = 0; i < d; i++) row[i] = x[i] / scale[i];
    stats.add(0, row, Float64Array.of(ys[k]), 1);
  });
  const { P, q } = stats.fit(lambda);
  return { kind, samples: xs.length, weights: Array.from({ length: d }, (_, i) => P.data[i] / scale[i]), intercept: q[0] };
}

/** Fits one model per node kind (and per fallback kind) on the profiled candidates. */
export function fitPredictor(training: readonly TrainingProfile[], options: FitOptions = {}): LatencyPredictor {
  if (training.length === 0) throw new Error('latency predictor: no profiled candidates to fit on');
  const lambda = options.lambda ?? 1e-4;
  const minSamples = options.minSamples ?? 3;
  const rescale = options.rescale ?? true;
  const byKind = new Map<string, { xs: number[][]; ys: number[] }>();
  for (const t of training) {
    let sumUs = 0;
    for (const s of t.shapes) sumUs += t.nodeUs.get(s.node) ?? 0;
    const factor = rescale && sumUs > 0 ? (1000 * t.measuredMs) / sumUs : 1;
    for (const s of t.shapes) {
      for (const kind of s.kinds) {
        let k = byKind.get(kind);
        if (!k) byKind.set(kind, (k = { xs: [], ys: [] }));
        k.xs.push(s.x);
        k.ys.push(factor * (t.nodeUs.get(s.node) ?? 0));
      }
    }
  }
  const kinds = new Map<string, KindModel>();
  for (const [kind, { xs, ys }] of byKind) if (xs.length >= minSamples) kinds.set(kind, fitKind(kind, xs, ys, lambda));
  const partial: LatencyPredictor = { kinds, scale: 1, constantMs: 0, profiles: training.length };
  // the whole-model line: measured ms against the summed node predictions of the same candidates
  const sums = training.map((t) => predictNodes(partial, t.shapes).totalUs / 1000);
  const ys = training.map((t) => t.measuredMs);
  const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;
  let scale = 1;
  let constantMs = mean(ys) - mean(sums);
  if (training.length >= 3) {
    const ms = mean(sums);
    const my = mean(ys);
    let sxy = 0;
    let sxx = 0;
    for (let i = 0; i < sums.length; i++) {
      sxy += (sums[i] - ms) * (ys[i] - my);
      sxx += (sums[i] - ms) ** 2;
    }
    // a line through few points can turn over; a non-positive slope is no model of latency
    if (sxx > 0 && sxy / sxx > 0) {
      scale = sxy / sxx;
      constantMs = my - scale * ms;
    }
  }
  return { kinds, scale, constantMs, profiles: training.length };
}

/** The model a node is predicted with: its most specific kind that was fitted. */
export function kindModelOf(p: LatencyPredictor, s: NodeShape): KindModel | undefined {
  for (const k of s.kinds) {
    const m = p.kinds.get(k);
    if (m) return m;
  }
  return undefined;
}

export function predictNodeUs(m: KindModel, x: readonly number[]): number {
  let y = m.intercept;
  for (let i = 0; i < m.weights.length; i++) y += m.weights[i] * (x[i] ?? 0);
  // a fitted line can dip below zero for shapes smaller than any it saw
  return Math.max(0, y);
}

function predictNodes(p: LatencyPredictor, shapes: readonly NodeShape[]): { totalUs: number; perKind: Map<string, number>; unseen: string[] } {
  let totalUs = 0;
  const perKind = new Map<string, number>();
  const unseen = new Set<string>();
  for (const s of shapes) {
    const m = kindModelOf(p, s);
    if (!m) {
      unseen.add(s.kinds[0]);
      continue;
    }
    const us = predictNodeUs(m, s.x);
    totalUs += us;
    perKind.set(m.kind, (perKind.get(m.kind) ?? 0) + us);
  }
  return { totalUs, perKind, unseen: [...unseen] };
}

export interface Prediction {
  ms: number;
  /** Σ predicted node times, before the whole-model line (ms). */
  nodesMs: number;
  /** Predicted µs per fitted kind used. */
  perKind: Map<string, number>;
  /** Kinds with no fitted model at any level: their nodes were predicted 0. */
  unseen: string[];
}

/** Predicted whole-model latency of a candidate from its node shapes. */
export function predictLatency(p: LatencyPredictor, shapes: readonly NodeShape[]): Prediction {
  const { totalUs, perKind, unseen } = predictNodes(p, shapes);
  return { ms: p.scale * (totalUs / 1000) + p.constantMs, nodesMs: totalUs / 1000, perKind, unseen };
}

/** Signed relative error of a prediction against a measurement, in percent. */
export const predictionErrorPct = (predictedMs: number, measuredMs: number): number => (100 * (predictedMs - measuredMs)) / measuredMs;

/** Mean absolute percentage error over pairs. */
export function meanAbsPctError(pairs: ReadonlyArray<{ predictedMs: number; measuredMs: number }>): number {
  if (pairs.length === 0) return NaN;
  return pairs.reduce((s, p) => s + Math.abs(predictionErrorPct(p.predictedMs, p.measuredMs)), 0) / pairs.length;
}

export interface ProfiledForCheck extends TrainingProfile {
  id: string;
}

export interface HeldOutPrediction {
  id: string;
  measuredMs: number;
  /** null: fewer than two other profiles to fit on. */
  predictedMs: number | null;
  errorPct: number | null;
  /** Profiles the predictor that predicted it was fitted on (all but this one). */
  fittedOn: number;
  unseen: string[];
}

/**
 * The predictor's error on every profiled candidate, each predicted by a
 * predictor fitted on all the others (leave one out): the honest error of a
 * prediction for a candidate not yet profiled on the class.
 */
export function leaveOneOut(profiles: readonly ProfiledForCheck[], options: FitOptions = {}): HeldOutPrediction[] {
  return profiles.map((held, i) => {
    const others = profiles.filter((_, j) => j !== i);
    if (others.length < 2) return { id: held.id, measuredMs: held.measuredMs, predictedMs: null, errorPct: null, fittedOn: others.length, unseen: [] };
    const p = predictLatency(fitPredictor(others, options), held.shapes);
    return { id: held.id, measuredMs: held.measuredMs, predictedMs: p.ms, errorPct: predictionErrorPct(p.ms, held.measuredMs), fittedOn: others.length, unseen: p.unseen };
  });
}
