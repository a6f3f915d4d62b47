import type { Catalog } from '../catalog/catalog.js';
import type { LiveStateStore } from '../profiles.js';
import { SpecError } from './spec.js';
import type { RolloutStore } from './store.js';

export interface StatusDeps {
  store: RolloutStore;
  catalog: Catalog;
  live: LiveStateStore;
}

/**
 * What `rollout status` shows: the rollout, each device with its state, its
 * candidate and the explanation of the choice, its live FPS, and per class
 * how many profiles the planner needed against exhaustive profiling.
 */
export function rolloutStatus(deps: StatusDeps, id: string, opts: { events?: number } = {}) {
  const rollout = deps.store.get(id);
  if (!rollout) throw new SpecError(`no rollout '${id}'`);
  const ladder = deps.catalog.candidates(rollout.spec.model);
  const nameOf = (cid: string | null) => (cid ? (ladder.find((c) => c.id === cid)?.name ?? cid) : null);
  const devices = deps.store.devices(id).map((d) => {
    const live = deps.live.get(d.deviceId);
    const servingThis = live.telemetry && d.candidateId && ladder.find((c) => c.id === d.candidateId)?.sha256 === live.telemetry.modelSha256;
    return {
      deviceId: d.deviceId,
      deviceClass: d.deviceClass,
      stage: d.stage,
      state: d.state,
      resumeState: d.resumeState,
      candidateId: d.candidateId,
      candidate: nameOf(d.candidateId),
      explanation: d.choice?.explanation ?? null,
      rejected: d.choice?.rejected ?? [],
      chosenMetrics: d.choice?.metrics ?? null,
      generation: d.generation,
      attempts: d.attempts,
      error: d.error,
      live: live.telemetry ? { fps: live.telemetry.fps, latencyP95Ms: live.telemetry.latencyP95Ms, temperatureC: live.telemetry.temperatureC, servingChosen: Boolean(servingThis) } : null,
      slo: live.reported?.slo ?? null,
    };
  });
  const measurements = deps.store.measurements(id);
  const classes = [...new Set(measurements.map((m) => m.deviceClass))].map((deviceClass) => {
    const ms = measurements.filter((m) => m.deviceClass === deviceClass);
    return {
      deviceClass,
      profiles: ms.length,
      exhaustive: ladder.filter((c) => !rollout.spec.candidates || rollout.spec.candidates.includes(c.id) || rollout.spec.candidates.includes(c.name)).length,
      measurements: ms.map((m) => ({ candidate: nameOf(m.candidateId), deviceId: m.deviceId, jobId: m.jobId, outcome: m.outcome })),
    };
  });
  return { ...rollout, devices, classes, events: opts.events === 0 ? [] : deps.store.events(id, opts.events ?? 200) };
}

/** One rollout as the API and the dashboard's event stream carry it. */
export type RolloutSummary = ReturnType<typeof rolloutStatus>;
