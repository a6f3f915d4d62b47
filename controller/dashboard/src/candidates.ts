import type { ProfileReport } from '../../../protocol/messages.js';
import { optional } from './api.js';
import type { CandidatePoint } from './charts.js';

export interface CandidateData {
  points: CandidatePoint[];
  yLabel: string;
  sloLatencyMs: number | null;
  summary: string;
  /** What to say when there is nothing to plot. */
  empty: string;
}

interface StoredProfile {
  jobId: string;
  deviceId: string;
  artifactSha256: string;
  candidateId: string | null;
  ok: boolean;
  error: string | null;
  profile: ProfileReport | null;
  finishedAt: number;
}

/** The candidates a device measured, from its profile results (newest per candidate). */
export async function loadCandidates(deviceId: string): Promise<CandidateData> {
  const id = encodeURIComponent(deviceId);
  const profiles = (await optional<{ profiles: StoredProfile[] }>(`/api/devices/${id}/profiles`))?.profiles ?? [];
  const newest = new Map<string, StoredProfile>();
  for (const p of profiles) {
    const key = p.candidateId ?? p.artifactSha256;
    const seen = newest.get(key);
    if (!seen || seen.finishedAt < p.finishedAt) newest.set(key, p);
  }
  const points: CandidatePoint[] = [];
  for (const [key, p] of newest) {
    if (!p.ok || !p.profile) continue;
    points.push({ id: key, name: p.candidateId ?? `sha256:${p.artifactSha256.slice(0, 12)}`, latencyMs: p.profile.endToEnd.p95Ms, y: p.profile.endToEndFps, status: 'feasible', reason: '', measuredOn: p.deviceId });
  }
  const failed = [...newest.values()].filter((p) => !p.ok).length;
  return {
    points,
    yLabel: 'end-to-end FPS',
    sloLatencyMs: null,
    summary: `${points.length} candidate(s) profiled on this device${failed ? `, ${failed} failed` : ''}.`,
    empty: 'No candidate has been profiled on this device or its class yet.',
  };
}
