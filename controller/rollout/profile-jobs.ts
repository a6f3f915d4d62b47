// The profile jobs of rollouts, at the MQTT edge: one per device class,
// candidate and execution provider, sent to one device of the class, and sent again under the same
// job id whenever a message may have gone to nobody (a device's hello, the
// controller's reconnect, its restart). The agent answers a job it already ran
// from its stored result, so asking twice costs a message, not a profile.
import type { CheckRequest, ExecutionProvider, ProfileReport } from '../../protocol/messages.js';
import type { Catalog, Candidate } from '../catalog/catalog.js';
import type { JobRequest } from '../fleet-link.js';
import type { Outcome } from '../planner.js';
import type { Metrics } from '../policy.js';
import type { StoredProfile } from '../profiles.js';
import type { Rollout, RolloutStore } from './store.js';

export interface ProfileJobDeps {
  checkFrames?(modelId: string): Promise<CheckRequest | undefined>;
  store: RolloutStore;
  catalog: Catalog;
  profiles: { get(jobId: string, deviceId: string): StoredProfile | undefined };
  sendJob(deviceId: string, job: JobRequest): Promise<unknown>;
}

/** What a profile tells the planner: end-to-end FPS and p95, peak memory and temperature. */
export function outcomeOf(p: StoredProfile): Outcome {
  if (!p.ok || !p.profile) return { ok: false, error: p.error ?? 'profile failed without a reason' };
  const check = p.check ? { check: p.check } : {};
  // broken on this class: the planner passes a failed outcome over, so it is never chosen here
  if (p.check && !p.check.ok) return { ok: false, error: p.check.reason, ...check };
  const r: ProfileReport = p.profile;
  const metrics: Metrics = { fps: r.endToEndFps, p95Ms: r.endToEnd.p95Ms, memoryMb: r.memory.peakRssMb, tempC: r.temperature.peakC };
  // modelMs: the plain mean model latency, the quantity the class's latency predictor predicts
  return { ok: true, metrics, modelMs: r.model.meanMs, ...check };
}

export class ProfileJobs {
  constructor(private readonly deps: ProfileJobDeps) {}

  /** Profiles `c` on provider `ep` with the spec's options for that provider. */
  async send(rollout: Rollout, deviceId: string, c: Candidate, jobId: string, ep: ExecutionProvider): Promise<void> {
    const artifact = this.deps.catalog.artifacts.get(c.sha256);
    if (!artifact) throw new Error(`artifact of ${c.name} is gone from the store`);
    const p = rollout.spec.profile;
    const check = await this.deps.checkFrames?.(c.modelId);
    const providerOptions = rollout.spec.providerOptions?.[ep];
    await this.deps.sendJob(deviceId, {
      jobId,
      kind: 'profile',
      artifact: artifact.ref,
      candidateId: c.id,
      ...(check ? { check } : {}),
      options: { durationS: p.durationS, warmup: p.warmup, ep, ...(providerOptions ? { providerOptions } : {}), ...(p.threads ? { threads: p.threads } : {}), ...(rollout.spec.slo.sustainedS ? { sustainedS: rollout.spec.slo.sustainedS } : {}), ...(rollout.spec.slo.maxTempC ? { maxTempC: rollout.spec.slo.maxTempC } : {}), ...(p.opProfile ? { opProfile: true } : {}) },
    });
  }

  /**
   * Open profiles (of one device, or all) asked again; one whose result is
   * already stored is settled instead. The device's time to answer restarts,
   * before any await, so that no pass times out a job that is on its way again.
   */
  async resendOpen(deviceId?: string): Promise<void> {
    const { store, catalog, profiles } = this.deps;
    const again: Array<() => Promise<void>> = [];
    const now = Date.now();
    for (const r of store.list().filter((x) => x.state === 'running' || x.state === 'paused')) {
      const ladder = catalog.candidates(r.spec.model);
      for (const m of store.measurements(r.id).filter((x) => x.outcome === null && (deviceId === undefined || x.deviceId === deviceId))) {
        const stored = profiles.get(m.jobId, m.deviceId);
        if (stored) {
          store.setOutcome(m.jobId, outcomeOf(stored), m.deviceId);
          continue;
        }
        const c = ladder.find((x) => x.id === m.candidateId);
        if (!c) continue;
        store.resent(m.jobId, m.deviceId, now);
        again.push(() => this.send(r, m.deviceId, c, m.jobId, m.ep).catch(() => undefined));
      }
    }
    for (const send of again) await send();
  }
}
