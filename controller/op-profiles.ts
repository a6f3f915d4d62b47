// Operator-level profiles per candidate file, device class and execution
// provider (issue #21): the latest one wins, so the table holds what the class
// runs today. Filled from stored profile results that carry an opProfile; read
// by the API (top layers) and by a latency predictor fitted per class and
// provider (compress/latency/predict.ts).
import type { Db } from './db.js';
import type { StoredProfile } from './profiles.js';
import type { ExecutionProvider, OpProfileReport } from '../protocol/messages.js';

export interface StoredOpProfile {
  artifactSha256: string;
  deviceClass: string;
  ep: ExecutionProvider;
  /** onnxruntime intra-op threads the profile ran with; null: onnxruntime's choice. */
  threads: number | null;
  candidateId: string | null;
  deviceId: string;
  jobId: string;
  /** The plain measurement's mean model latency (ms) of the same job, with no profiler on. */
  modelMs: number;
  opProfile: OpProfileReport;
  measuredAt: number;
}

interface Row {
  artifact_sha256: string;
  device_class: string;
  ep: string;
  threads: number;
  candidate_id: string | null;
  device_id: string;
  job_id: string;
  model_ms: number;
  op_profile: string;
  measured_at: number;
}

const toStored = (r: Row): StoredOpProfile => ({
  artifactSha256: r.artifact_sha256,
  deviceClass: r.device_class,
  ep: r.ep as ExecutionProvider,
  threads: r.threads === 0 ? null : r.threads,
  candidateId: r.candidate_id,
  deviceId: r.device_id,
  jobId: r.job_id,
  modelMs: r.model_ms,
  opProfile: JSON.parse(r.op_profile) as OpProfileReport,
  measuredAt: r.measured_at,
});

export interface TopNode {
  node: string;
  op: string;
  /** Own kernel time plus what was attributed to it, ms per run. */
  ms: number;
  /** Share of the profile's kernel time, %. */
  pct: number;
}

/** The `n` nodes of an operator profile that take longest. */
export function topLayers(p: OpProfileReport, n: number): TopNode[] {
  const total = p.kernelMs > 0 ? p.kernelMs : 1;
  return [...p.nodes]
    .map((x) => ({ node: x.node, op: x.op, ms: Math.round((x.ms + x.absorbedMs) * 1000) / 1000 }))
    .sort((a, b) => b.ms - a.ms)
    .slice(0, n)
    .map((x) => ({ ...x, pct: Math.round((1000 * x.ms) / total) / 10 }));
}

export class OpProfileStore {
  constructor(private readonly db: Db) {}

  /** Keeps a stored result's operator profile under the class the device had; false when it carries none (or the class is unknown). */
  recordFrom(stored: StoredProfile, deviceClass: string | null | undefined): boolean {
    const p = stored.profile;
    if (!stored.ok || !p?.opProfile || !deviceClass) return false;
    this.db
      .prepare(
        `INSERT INTO op_profiles (artifact_sha256, device_class, ep, threads, candidate_id, device_id, job_id, model_ms, op_profile, measured_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (artifact_sha256, device_class, ep, threads) DO UPDATE SET candidate_id = excluded.candidate_id, device_id = excluded.device_id,
           job_id = excluded.job_id, model_ms = excluded.model_ms, op_profile = excluded.op_profile, measured_at = excluded.measured_at
         WHERE excluded.measured_at >= op_profiles.measured_at`,
      )
      .run(stored.artifactSha256, deviceClass, p.ep, p.opProfile.threads ?? 0, stored.candidateId, stored.deviceId, stored.jobId, p.model.meanMs, JSON.stringify(p.opProfile), stored.finishedAt);
    return true;
  }

  /** Operator profiles, newest first, narrowed by whatever is given. */
  list(filter: { artifactSha256?: string; deviceClass?: string; ep?: string } = {}, limit = 100): StoredOpProfile[] {
    const given = ([['artifact_sha256', filter.artifactSha256], ['device_class', filter.deviceClass], ['ep', filter.ep]] as const).filter(([, v]) => v);
    const where = given.map(([column]) => `${column} = ?`);
    const args = given.map(([, v]) => v);
    const sql = `SELECT * FROM op_profiles ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY measured_at DESC LIMIT ?`;
    return (this.db.prepare(sql).all(...args, limit) as Row[]).map(toStored);
  }
}
