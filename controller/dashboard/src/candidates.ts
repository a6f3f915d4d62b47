import type { Candidate } from '../../catalog/catalog.js';
import type { StoredProfile } from '../../profiles.js';
import { optional } from './api.js';
import type { CandidatePoint } from './charts.js';
import type { RolloutStatus } from './rollouts-view.js';

export interface CandidateData {
  points: CandidatePoint[];
  yLabel: string;
  sloLatencyMs: number | null;
  sloLabel: string;
  summary: string;
  /** What to say when there is nothing to plot. */
  empty: string;
}

const enc = encodeURIComponent;

/** Newest profile per candidate id (or per artifact when the job named no candidate). */
function newestByCandidate(profiles: StoredProfile[], into = new Map<string, StoredProfile>()): Map<string, StoredProfile> {
  for (const p of profiles) {
    const key = p.candidateId ?? p.artifactSha256;
    const seen = into.get(key);
    if (!seen || seen.finishedAt < p.finishedAt) into.set(key, p);
  }
  return into;
}

/** The latest rollout that made (or tried) a choice for this device. */
async function latestRolloutFor(deviceId: string): Promise<{ rollout: RolloutStatus; device: RolloutStatus['devices'][number] } | null> {
  const rollouts = (await optional<{ rollouts: RolloutStatus[] }>('/api/rollouts'))?.rollouts ?? [];
  const mine = rollouts
    .map((rollout) => ({ rollout, device: rollout.devices.find((d) => d.deviceId === deviceId) }))
    .filter((x): x is { rollout: RolloutStatus; device: RolloutStatus['devices'][number] } => x.device !== undefined && (x.device.candidateId !== null || x.device.rejected.length > 0))
    .sort((a, b) => b.rollout.createdAt - a.rollout.createdAt);
  if (!mine.length) return null;
  // The list leaves out events; the detail has the class measurements too.
  const rollout = await optional<RolloutStatus>(`/api/rollouts/${enc(mine[0].rollout.id)}`);
  const device = rollout?.devices.find((d) => d.deviceId === deviceId);
  return rollout && device ? { rollout, device } : null;
}

async function allCandidates(): Promise<Candidate[]> {
  const models = (await optional<{ models: Array<{ id: string }> }>('/api/models'))?.models ?? [];
  const lists = await Promise.all(models.map((m) => optional<{ candidates: Candidate[] }>(`/api/models/${enc(m.id)}/candidates`)));
  return lists.flatMap((l) => l?.candidates ?? []);
}

/**
 * Every candidate this device (or, for the class, another device in the same
 * rollout) measured: p95 latency against accuracy, each with the policy's
 * verdict — chosen, rejected with its reason, failed, or feasible but ranked
 * below the choice. Without accuracy figures (synthetic ladders) the y axis
 * is GFLOPs, and says so.
 */
export async function loadCandidates(deviceId: string): Promise<CandidateData> {
  const [own, decision] = await Promise.all([optional<{ profiles: StoredProfile[] }>(`/api/devices/${enc(deviceId)}/profiles`), latestRolloutFor(deviceId)]);
  const profiles = newestByCandidate(own?.profiles ?? []);
  let ladder: Candidate[];
  let classDevices: string[] = [];
  if (decision) {
    ladder = (await optional<{ candidates: Candidate[] }>(`/api/models/${enc(decision.rollout.spec.model)}/candidates`))?.candidates ?? [];
    const klass = decision.rollout.classes.find((c) => c.deviceClass === decision.device.deviceClass);
    classDevices = [...new Set((klass?.measurements ?? []).map((m) => m.deviceId).filter((d) => d !== deviceId))];
  } else ladder = await allCandidates();
  // Measurements the class shares: another device's profile counts for this one unless this one measured it too.
  const others = await Promise.all(classDevices.map((d) => optional<{ profiles: StoredProfile[] }>(`/api/devices/${enc(d)}/profiles`)));
  const classProfiles = newestByCandidate(others.flatMap((o) => o?.profiles ?? []));

  const withAccuracy = ladder.some((c) => c.accuracy.value !== null);
  const rejected = new Map((decision?.device.rejected ?? []).map((r) => [r.candidateId, r]));
  const points: CandidatePoint[] = [];
  const seen = new Set<string>();
  for (const c of ladder) {
    const p = profiles.get(c.id) ?? classProfiles.get(c.id);
    const r = rejected.get(c.id);
    if (!p && !r && c.id !== decision?.device.candidateId) continue;
    seen.add(c.id);
    const status: CandidatePoint['status'] = c.id === decision?.device.candidateId ? 'chosen' : r ? 'rejected' : p && !p.ok ? 'failed' : 'feasible';
    points.push({
      id: c.id,
      name: c.name,
      latencyMs: p?.ok && p.profile ? p.profile.endToEnd.p95Ms : null,
      y: withAccuracy ? (c.accuracy.value ?? Number.NaN) : c.flops / 1e9,
      yKind: withAccuracy ? (c.accuracy.value === null ? 'no accuracy' : c.accuracy.kind) : 'GFLOPs',
      status,
      reason: r ? r.reasons.join('; ') : p && !p.ok ? `profile failed: ${p.error ?? 'unknown error'}` : status === 'feasible' && decision ? 'meets the SLO, ranked below the choice' : '',
      measuredOn: p ? (p.deviceId === deviceId ? 'this device' : `${p.deviceId} (same class)`) : 'not measured',
    });
  }
  // Profiles of models outside the catalog (sent by hand) still belong on the device's record.
  for (const [key, p] of profiles) {
    if (seen.has(key)) continue;
    points.push({ id: key, name: p.candidateId ?? `sha256:${p.artifactSha256.slice(0, 12)}`, latencyMs: p.ok && p.profile ? p.profile.endToEnd.p95Ms : null, y: Number.NaN, yKind: 'not in the catalog', status: p.ok ? 'feasible' : 'failed', reason: p.ok ? 'not in the catalog: no accuracy' : `profile failed: ${p.error ?? 'unknown error'}`, measuredOn: 'this device' });
  }

  const slo = decision?.rollout.spec.slo;
  const sloLatencyMs = slo?.maxP95Ms ?? (slo?.minFps ? 1000 / slo.minFps : null);
  const sloLabel = slo?.maxP95Ms ? `SLO p95 ≤ ${slo.maxP95Ms} ms` : slo?.minFps ? `SLO ≥ ${slo.minFps} FPS` : '';
  return {
    points,
    yLabel: withAccuracy ? 'accuracy (mAP50-95 or fidelity)' : 'GFLOPs (synthetic weights: no accuracy)',
    sloLatencyMs,
    sloLabel,
    summary: decision
      ? `Rollout ${decision.rollout.spec.name ?? decision.rollout.id}: ${decision.device.explanation ?? 'no choice yet.'}`
      : `${points.length} candidate(s) profiled on this device; no rollout has chosen one for it yet.`,
    empty: 'No candidate has been profiled on this device or its class yet.',
  };
}
