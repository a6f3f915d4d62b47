// The latency predictor of one device class, provider and thread count, checked
// on what that class has measured: every candidate with an operator profile is
// predicted by the predictor fitted on all the others, and the prediction, the
// measurement and the error are stored (latency_predictions) and shown. A
// prediction never stands in for a measurement here: it is scored against one.
import { readFile } from 'node:fs/promises';
import { nodeShapes, type NodeShape } from '../compress/latency/features.js';
import { fitPredictor, leaveOneOut, meanAbsPctError, predictLatency, type HeldOutPrediction, type LatencyPredictor, type ProfiledForCheck } from '../compress/latency/predict.js';
import { readModel } from '../compress/onnx/read.js';
import type { Db } from './db.js';
import type { OpProfileStore } from './op-profiles.js';
import type { LatencyHints } from './planner.js';

/**
 * Fewest operator profiles of a class (provider, thread count) before the
 * planner uses its predictor: with three, every one is predicted by a fit on
 * two others, so the predictor has a leave-one-out error to set its margin.
 */
export const MIN_PROFILES_FOR_HINTS = 3;

export interface ScoredPrediction extends HeldOutPrediction {
  candidateId: string | null;
}

export interface PredictionCheck {
  deviceClass: string;
  ep: string;
  threads: number | null;
  predictions: ScoredPrediction[];
  /** Mean absolute percentage error over the candidates that could be predicted; null when none could. */
  mapePct: number | null;
  /** Profiled files the controller no longer has (their shapes are unknown): left out. */
  missing: string[];
}

export class LatencyPredictions {
  /** Node shapes per artifact: a file never changes under its hash. */
  private readonly shapes = new Map<string, NodeShape[] | null>();

  constructor(
    private readonly db: Db,
    private readonly opProfiles: OpProfileStore,
    private readonly pathOf: (sha256: string) => string | undefined,
  ) {}

  private async shapesOf(sha256: string): Promise<NodeShape[] | null> {
    if (!this.shapes.has(sha256)) {
      const file = this.pathOf(sha256);
      let shapes: NodeShape[] | null = null;
      if (file) {
        try {
          shapes = nodeShapes(readModel(await readFile(file)));
        } catch {
          shapes = null;
        }
      }
      this.shapes.set(sha256, shapes);
    }
    return this.shapes.get(sha256)!;
  }

  /** The class's operator profiles at this provider and thread count whose files the controller still has, as the predictor's training set. */
  private async profiled(deviceClass: string, ep: string, threads: number | null): Promise<{ usable: ProfiledForCheck[]; missing: string[]; candidateOf: Map<string, string | null> }> {
    const rows = this.opProfiles.list({ deviceClass, ep }, 10_000).filter((r) => r.threads === threads);
    const usable: ProfiledForCheck[] = [];
    const missing: string[] = [];
    const candidateOf = new Map<string, string | null>();
    for (const r of rows) {
      const shapes = await this.shapesOf(r.artifactSha256);
      if (!shapes) {
        missing.push(r.artifactSha256);
        continue;
      }
      candidateOf.set(r.artifactSha256, r.candidateId);
      usable.push({ id: r.artifactSha256, shapes, nodeUs: new Map(r.opProfile.nodes.map((n) => [n.node, 1000 * (n.ms + n.absorbedMs)])), measuredMs: r.modelMs });
    }
    return { usable, missing, candidateOf };
  }

  /** Fitted predictors by class, provider, thread count and the op profiles they saw (a new profile refits). */
  private readonly fitted = new Map<string, { stamp: string; fit: { predictor: LatencyPredictor; mapePct: number; byFile: Map<string, number | null> } | null }>();

  /**
   * What the planner needs of this class's predictor: a predicted model
   * latency per candidate (keyed by the id the caller gives) and its
   * leave-one-out MAPE; undefined with fewer than MIN_PROFILES_FOR_HINTS
   * operator profiles. Refitted only when the class's op profiles change.
   */
  async hints(deviceClass: string, ep: string, threads: number | null, candidates: ReadonlyArray<{ id: string; sha256: string }>): Promise<LatencyHints | undefined> {
    const stamp = this.db.prepare('SELECT COUNT(*) AS n, MAX(measured_at) AS at FROM op_profiles WHERE device_class = ? AND ep = ? AND threads = ?').get(deviceClass, ep, threads ?? 0) as { n: number; at: number | null };
    if (stamp.n < MIN_PROFILES_FOR_HINTS) return undefined;
    const key = JSON.stringify([deviceClass, ep, threads]);
    const seen = `${stamp.n}:${stamp.at}`;
    if (this.fitted.get(key)?.stamp !== seen) {
      const { usable } = await this.profiled(deviceClass, ep, threads);
      const scored = leaveOneOut(usable).filter((p): p is HeldOutPrediction & { predictedMs: number } => p.predictedMs !== null);
      this.fitted.set(key, { stamp: seen, fit: usable.length >= MIN_PROFILES_FOR_HINTS && scored.length ? { predictor: fitPredictor(usable), mapePct: meanAbsPctError(scored), byFile: new Map() } : null });
    }
    const fit = this.fitted.get(key)!.fit;
    if (!fit) return undefined;
    const predictedMs = new Map<string, number>();
    for (const c of candidates) {
      if (!fit.byFile.has(c.sha256)) {
        const shapes = await this.shapesOf(c.sha256);
        fit.byFile.set(c.sha256, shapes ? predictLatency(fit.predictor, shapes).ms : null);
      }
      const ms = fit.byFile.get(c.sha256);
      if (ms !== null && ms !== undefined && ms > 0) predictedMs.set(c.id, ms);
    }
    return { predictedMs, mapePct: fit.mapePct };
  }

  /** The class's fitted predictor (for a search on the class); undefined with fewer than MIN_PROFILES_FOR_HINTS op profiles. */
  async predictor(deviceClass: string, ep: string, threads: number | null): Promise<LatencyPredictor | undefined> {
    if (!(await this.hints(deviceClass, ep, threads, []))) return undefined;
    return this.fitted.get(JSON.stringify([deviceClass, ep, threads]))?.fit?.predictor;
  }

  /** Scores the predictor of this class, provider and thread count on every profiled candidate, and stores the result. */
  async check(deviceClass: string, ep: string, threads: number | null, now = Date.now()): Promise<PredictionCheck> {
    const { usable, missing, candidateOf } = await this.profiled(deviceClass, ep, threads);
    const predictions = leaveOneOut(usable).map((p) => ({ ...p, candidateId: candidateOf.get(p.id) ?? null }));
    const upsert = this.db.prepare(
      `INSERT INTO latency_predictions (artifact_sha256, device_class, ep, threads, measured_ms, predicted_ms, error_pct, fitted_on, computed_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (artifact_sha256, device_class, ep, threads) DO UPDATE SET measured_ms = excluded.measured_ms, predicted_ms = excluded.predicted_ms,
         error_pct = excluded.error_pct, fitted_on = excluded.fitted_on, computed_at = excluded.computed_at`,
    );
    this.db.transaction(() => {
      for (const p of predictions) upsert.run(p.id, deviceClass, ep, threads ?? 0, p.measuredMs, p.predictedMs, p.errorPct, p.fittedOn, now);
    })();
    const scored = predictions.filter((p): p is ScoredPrediction & { predictedMs: number } => p.predictedMs !== null);
    return { deviceClass, ep, threads, predictions, mapePct: scored.length ? meanAbsPctError(scored.map((p) => ({ predictedMs: p.predictedMs, measuredMs: p.measuredMs }))) : null, missing };
  }

  /** The stored scores of a class and provider (all thread counts). */
  stored(deviceClass: string, ep: string): Array<{ artifactSha256: string; threads: number | null; measuredMs: number; predictedMs: number | null; errorPct: number | null; fittedOn: number; computedAt: number }> {
    const rows = this.db.prepare('SELECT * FROM latency_predictions WHERE device_class = ? AND ep = ? ORDER BY threads, artifact_sha256').all(deviceClass, ep) as Array<{ artifact_sha256: string; threads: number; measured_ms: number; predicted_ms: number | null; error_pct: number | null; fitted_on: number; computed_at: number }>;
    return rows.map((r) => ({ artifactSha256: r.artifact_sha256, threads: r.threads === 0 ? null : r.threads, measuredMs: r.measured_ms, predictedMs: r.predicted_ms, errorPct: r.error_pct, fittedOn: r.fitted_on, computedAt: r.computed_at }));
  }
}
