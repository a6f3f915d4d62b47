// Planning that measures little, pure. Devices of one class share
// measurements; within a precision family latency grows with FLOPs, so the
// planner starts in the middle of a family (bisection), fits latency ≈ a·FLOPs
// + b per family on what it measured, predicts the rest, and measures only the
// candidates its prediction cannot settle: the predicted choice (a choice is
// always a measurement) and anything predicted to miss by less than the margin.
import { predictionErrorPct } from '../compress/latency/predict.js';
import type { CheckRecord } from './check/checker.js';
import { rankByObjective, sloExcess, sloViolations, objectiveMode, tiedByObjective, type Evidence, type LadderCandidate, type Metrics, type ServiceLevel } from './policy.js';

/** `check`: the on-device check's verdict and cost, when the profile carried one; a failed check is a failed outcome. */
export type Outcome = { ok: true; metrics: Metrics; check?: CheckRecord; modelMs?: number } | { ok: false; error: string; check?: CheckRecord };

/**
 * The class's latency predictor (compress/latency/predict.ts, fitted on the
 * class's operator profiles at the rollout's thread count) as the planner sees
 * it: a predicted model latency per unmeasured candidate and the predictor's
 * leave-one-out error on the class. `modelMs` of a measured outcome is the same
 * quantity measured (the plain mean model latency), so each probe also scores
 * the predictor.
 */
export interface LatencyHints {
  /** Predicted mean model latency, ms, per ladder id. */
  predictedMs: ReadonlyMap<string, number>;
  /** Leave-one-out mean absolute percentage error of the class's predictor, %; null: not known. */
  mapePct: number | null;
}

export interface PlannerOptions {
  /** Skip a candidate on a fitted (≥ 2 point) prediction only when it misses by more than this fraction. */
  margin?: number;
  /** The same for a one-point (proportional) prediction, which is rougher. */
  roughMargin?: number;
  /** With a fitted predictor: probes ordered and far-over candidates skipped on its predictions. */
  latency?: LatencyHints;
}

/** A candidate passed over without a profile because the class's predictor puts it far over the bound. */
export interface PredictionSkip {
  candidateId: string;
  predictedMs: number;
  boundMs: number;
  margin: number;
  why: string;
}

export type PlanStep =
  | { kind: 'measure'; candidateId: string; why: string; evidence: Map<string, Evidence>; skipped: PredictionSkip[] }
  | { kind: 'done'; evidence: Map<string, Evidence>; profiles: number; exhaustive: number; skipped: PredictionSkip[] };

/**
 * The tightest latency the level allows one inference, ms: maxP95Ms, or the
 * frame time of minFps. Both are end to end (letterbox, NMS, the agent's loop
 * on top of the model), so a model latency over this bound misses the level
 * for certain; undefined when the level bounds no latency.
 */
export function latencyBoundMs(slo: ServiceLevel): number | undefined {
  const bounds = [slo.maxP95Ms, slo.minFps !== undefined && slo.minFps > 0 ? 1000 / slo.minFps : undefined].filter((b): b is number => b !== undefined);
  return bounds.length ? Math.min(...bounds) : undefined;
}

/** The predictor's floor margin: see predictionMargin. */
export const MIN_PREDICTION_MARGIN = 0.15;

/**
 * How far over the bound a prediction must be before its candidate is skipped:
 * twice the predictor's error on this class, the larger of its leave-one-out
 * MAPE and its error on the candidates this plan has measured (a predictor
 * that turns out wrong here widens its own margin at the next step), and
 * never under 15 %. Twice: a MAPE is a mean, and a single candidate can miss by
 * more than the mean. The floor: a MAPE fitted on a handful of profiles is itself
 * uncertain, and the same int8 model's latency ratio moved from 0.74× to
 * 0.88× fp32 with the measuring setup alone (issue 21); a learned predictor
 * is trusted no more than the planner's roughest FLOPs guess (roughMargin).
 */
export function predictionMargin(mapePct: number | null, observedPct: readonly number[]): number {
  const observed = observedPct.length ? observedPct.reduce((s, e) => s + Math.abs(e), 0) / observedPct.length : 0;
  return Math.max(MIN_PREDICTION_MARGIN, (2 * Math.max(mapePct ?? 0, observed)) / 100);
}

/** Errors (%) of the predictions on the candidates that have since been measured. */
function observedErrors(hints: LatencyHints, measured: ReadonlyMap<string, Outcome>): number[] {
  const out: number[] = [];
  for (const [id, o] of measured) {
    const p = hints.predictedMs.get(id);
    if (p !== undefined && o.ok && o.modelMs !== undefined && o.modelMs > 0) out.push(predictionErrorPct(p, o.modelMs));
  }
  return out;
}

/** Candidates the predictor puts over the bound by more than the margin: not profiled, each with its reason. */
export function predictionSkips(ladder: readonly LadderCandidate[], slo: ServiceLevel, measured: ReadonlyMap<string, Outcome>, hints: LatencyHints | undefined): PredictionSkip[] {
  const boundMs = latencyBoundMs(slo);
  if (!hints || boundMs === undefined) return [];
  const margin = predictionMargin(hints.mapePct, observedErrors(hints, measured));
  const out: PredictionSkip[] = [];
  for (const c of ladder) {
    const predictedMs = hints.predictedMs.get(c.id);
    if (measured.has(c.id) || predictedMs === undefined || !(predictedMs > boundMs * (1 + margin))) continue;
    out.push({ candidateId: c.id, predictedMs, boundMs, margin, why: `predicted ${predictedMs.toFixed(1)} ms > bound ${+boundMs.toFixed(2)} ms × (1 + ${+margin.toFixed(2)})` });
  }
  return out;
}

interface Line {
  a: number;
  b: number;
}

/** Least squares y ≈ a·x + b; with one distinct x, a line through the origin. */
export function fitLine(points: ReadonlyArray<readonly [number, number]>): Line | undefined {
  if (points.length === 0) return undefined;
  const n = points.length;
  const mx = points.reduce((s, p) => s + p[0], 0) / n;
  const my = points.reduce((s, p) => s + p[1], 0) / n;
  const sxx = points.reduce((s, p) => s + (p[0] - mx) ** 2, 0);
  if (sxx <= 1e-12 * Math.max(1, mx * mx)) return mx > 0 ? { a: my / mx, b: 0 } : undefined;
  const sxy = points.reduce((s, p) => s + (p[0] - mx) * (p[1] - my), 0);
  const a = sxy / sxx;
  return { a, b: my - a * mx };
}

interface FamilyModel {
  frameMs: Line;
  p95Ms: Line;
  memoryMb: Line;
  /** Distinct FLOPs measured: 1 means a proportional guess, 2+ a fit. */
  points: number;
  /** One point with a borrowed shape: the lines through that point and the origin, which cap the shaped ones (see predict). */
  throughOrigin?: { frameMs: Line; p95Ms: Line };
}

function familyModels(ladder: readonly LadderCandidate[], measured: ReadonlyMap<string, Outcome>): Map<string, FamilyModel> {
  const byFamily = new Map<string, Array<{ c: LadderCandidate; m: Metrics }>>();
  for (const c of ladder) {
    const o = measured.get(c.id);
    if (!o?.ok) continue;
    const list = byFamily.get(c.family) ?? [];
    list.push({ c, m: o.metrics });
    byFamily.set(c.family, list);
  }
  const models = new Map<string, FamilyModel>();
  for (const [family, list] of byFamily) {
    const frameMs = fitLine(list.map(({ c, m }) => [c.flops, 1000 / m.fps] as const));
    const p95Ms = fitLine(list.map(({ c, m }) => [c.flops, m.p95Ms] as const));
    const memoryMb = fitLine(list.map(({ c, m }) => [c.sizeBytes, m.memoryMb] as const));
    if (!frameMs || !p95Ms || !memoryMb) continue;
    models.set(family, { frameMs, p95Ms, memoryMb, points: new Set(list.map(({ c }) => c.flops)).size });
  }
  // One point fixes a family's scale but not its fixed overhead: borrow the
  // overhead-to-slope shape of a fitted family, capped by none (see predict).
  const shaped = [...models.values()].find((m) => m.points >= 2 && m.frameMs.a > 0 && m.p95Ms.a > 0);
  if (shaped) {
    for (const [family, model] of models) {
      if (model.points !== 1) continue;
      const point = byFamily.get(family)![0];
      const rescale = (shape: Line, y: number, x: number): Line => {
        const s = y / Math.max(1e-9, shape.a * x + shape.b);
        return { a: shape.a * s, b: shape.b * s };
      };
      models.set(family, { ...model, throughOrigin: { frameMs: model.frameMs, p95Ms: model.p95Ms }, frameMs: rescale(shaped.frameMs, 1000 / point.m.fps, point.c.flops), p95Ms: rescale(shaped.p95Ms, point.m.p95Ms, point.c.flops) });
    }
  }
  return models;
}

/**
 * A one-point family predicts the faster of its borrowed shape and its line
 * through the origin. Below the point the origin line is the fastest the family
 * can be (overhead ≥ 0), so what it rules out does miss; a borrowed shape is a
 * guess from another family. Measured (planner-predictions.test.ts, × fp32-640's
 * model time): int8's line through its searched 512/416 frames (0.57, 0.54 at
 * 0.64, 0.42 × FLOPs) is 85 % overhead; borrowed from fp32-512 it put fp32-320
 * at 0.70 (measured 0.39, +79 %), passed over at the 12 of 132 levels only it
 * meets; the origin line says 0.30 (−23 %): profiled. Above the point the shape
 * stays (it is the faster there); flat, the fastest, rules nothing out and costs
 * 6 profiles at a level of planner.test.ts (bound 5).
 */
function predict(model: FamilyModel, c: LadderCandidate): Metrics {
  const at = (l: Line, x: number, cap?: Line) => Math.max(1e-6, Math.min(l.a * x + l.b, cap ? cap.a * x + cap.b : Infinity));
  const o = model.throughOrigin;
  return { fps: 1000 / at(model.frameMs, c.flops, o?.frameMs), p95Ms: at(model.p95Ms, c.flops, o?.p95Ms), memoryMb: at(model.memoryMb, c.sizeBytes), tempC: null };
}

/** What is known of every candidate from the measurements so far: measured, failed, implied by a slower sibling, predicted, or unknown. */
export function evidenceFor(ladder: readonly LadderCandidate[], measured: ReadonlyMap<string, Outcome>, slo: ServiceLevel): Map<string, Evidence> {
  const models = familyModels(ladder, measured);
  const evidence = new Map<string, Evidence>();
  for (const c of ladder) {
    const o = measured.get(c.id);
    if (o) {
      evidence.set(c.id, o.ok ? { basis: 'measured', metrics: o.metrics } : { basis: 'failed', error: o.error });
      continue;
    }
    // A sibling with no more FLOPs that already missed the level: this one misses too (the monotone assumption).
    const slower = ladder
      .filter((s) => s.family === c.family && s.flops <= c.flops && s.sizeBytes <= c.sizeBytes)
      .map((s) => ({ s, o: measured.get(s.id) }))
      .find(({ o: so }) => so?.ok && sloViolations(so.metrics, slo).length > 0);
    if (slower?.o?.ok) {
      evidence.set(c.id, { basis: 'implied', by: slower.s.id, violations: sloViolations(slower.o.metrics, slo) });
      continue;
    }
    const model = models.get(c.family);
    evidence.set(c.id, model ? { basis: 'predicted', metrics: predict(model, c) } : { basis: 'unknown' });
  }
  return evidence;
}

/** The candidate of `family` nearest the middle of the undecided ones by FLOPs: where a bisection starts. */
function bisectionPoint(ladder: readonly LadderCandidate[], family: string, evidence: ReadonlyMap<string, Evidence>): LadderCandidate {
  const open = ladder.filter((c) => c.family === family && evidence.get(c.id)?.basis === 'unknown').sort((a, b) => a.flops - b.flops || (a.id < b.id ? -1 : 1));
  return open[Math.floor((open.length - 1) / 2)];
}

/**
 * The next measurement, or done. Walks the candidates best first: a measured
 * one that meets the level ends the walk (after settling ties on latency);
 * failed, implied and clearly-missing predicted ones are passed over; the
 * first one nothing settles is measured — in a family with no measurement
 * yet, the middle of that family instead, so each first profile halves it.
 */
export function planStep(ladder: readonly LadderCandidate[], slo: ServiceLevel, measured: ReadonlyMap<string, Outcome>, opts: PlannerOptions = {}): PlanStep {
  const margin = opts.margin ?? 0.1;
  const roughMargin = opts.roughMargin ?? 0.15;
  const evidence = evidenceFor(ladder, measured, slo);
  const models = familyModels(ladder, measured);
  const mode = objectiveMode(ladder);
  const ranked = rankByObjective(ladder, evidence);
  const skipped = predictionSkips(ladder, slo, measured, opts.latency);
  const skip = new Set(skipped.map((s) => s.candidateId));
  const done = (): PlanStep => ({ kind: 'done', evidence, profiles: measured.size, exhaustive: ladder.length, skipped });
  const measure = (c: LadderCandidate, why: string): PlanStep => ({ kind: 'measure', candidateId: c.id, why, evidence, skipped });

  for (let i = 0; i < ranked.length; i++) {
    const c = ranked[i];
    const e = evidence.get(c.id)!;
    // Predicted far over the bound: passed over unmeasured (it can never be the choice: only a measurement is).
    if (skip.has(c.id)) continue;
    // With the class's predictor, its prediction (of this very model) decides what to measure next, not the
    // family's FLOPs line or a bisection: the line through a family's largest members misjudges its smallest
    // (fixed overhead, int8's flat tail), and a bisection is for when nothing says where the boundary is.
    const predictedMs = opts.latency?.predictedMs.get(c.id);
    if ((e.basis === 'predicted' || e.basis === 'unknown') && predictedMs !== undefined) {
      return measure(c, `predicted ${predictedMs.toFixed(1)} ms by the class's latency predictor: the best-ranked candidate it does not rule out`);
    }
    switch (e.basis) {
      case 'measured': {
        if (sloViolations(e.metrics, slo).length > 0) continue;
        // A tied candidate (same accuracy or size) may still be faster: settle an unmeasured one that could be.
        for (const t of ranked.slice(i + 1).filter((t) => tiedByObjective(t, c, mode) && !skip.has(t.id))) {
          const te = evidence.get(t.id)!;
          if (te.basis === 'unknown') return measure(t, `tied with ${c.name} on the objective; its latency decides`);
          if (te.basis === 'predicted' && 1000 / te.metrics.fps < 1000 / e.metrics.fps && sloViolations(te.metrics, slo).length === 0) {
            return measure(t, `tied with ${c.name} on the objective and predicted faster`);
          }
        }
        return done();
      }
      case 'failed':
      case 'implied':
        continue;
      case 'predicted': {
        const excess = sloExcess(e.metrics, slo);
        const allowed = (models.get(c.family)?.points ?? 0) >= 2 ? margin : roughMargin;
        if (excess > allowed) continue;
        return measure(c, excess > 0 ? `predicted to miss the service level by only ${(excess * 100).toFixed(0)} %: near the boundary` : 'predicted to meet the service level: confirm before choosing');
      }
      case 'unknown': {
        const start = bisectionPoint(ladder, c.family, evidence);
        return measure(start, `no measurement of the ${c.family} family yet: start its bisection in the middle`);
      }
    }
  }
  return done();
}

export interface PlanRecord {
  /** Profiles this class needed. */
  profiles: number;
  /** Profiles an exhaustive sweep would have needed: the whole ladder. */
  exhaustive: number;
  /** Candidates the class's predictor ruled out without a profile. */
  skipped?: PredictionSkip[];
}

/** Runs the planner to the end against a measuring function; for tests and offline what-ifs. */
export function planAll(ladder: readonly LadderCandidate[], slo: ServiceLevel, oracle: (c: LadderCandidate) => Outcome, opts: PlannerOptions = {}): { evidence: Map<string, Evidence>; record: PlanRecord; order: string[] } {
  const measured = new Map<string, Outcome>();
  const order: string[] = [];
  for (;;) {
    const step = planStep(ladder, slo, measured, opts);
    if (step.kind === 'done') return { evidence: step.evidence, record: { profiles: step.profiles, exhaustive: step.exhaustive, skipped: step.skipped }, order };
    if (measured.has(step.candidateId)) throw new Error(`planner asked twice for ${step.candidateId}`);
    measured.set(step.candidateId, oracle(ladder.find((c) => c.id === step.candidateId)!));
    order.push(step.candidateId);
  }
}
