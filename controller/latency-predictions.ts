// The latency predictor of one device class, provider and thread count, checked
// on what that class has measured: every candidate with an operator profile is
// predicted by the predictor fitted on all the others, and the prediction, the
// measurement and the error are stored (latency_predictions) and shown. A
// prediction never stands in for a measurement here: it is scored against one.
import { readFile } from 'node:fs/promises';
import { nodeShapes, type NodeShape } from '../compress/latency/features.js';
import { leaveOneOut, meanAbsPctError, type HeldOutPrediction, type ProfiledForCheck } from '../compress/latency/predict.js';
import { readModel } from '../compress/onnx/read.js';
import type { Db } from './db.js';
import type { OpProfileStore } from './op-profiles.js';

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

  /** Scores the predictor of this class, provider and thread count on every profiled candidate, and stores the result. */
  async check(deviceClass: string, ep: string, threads: number | null, now = Date.now()): Promise<PredictionCheck> {
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
