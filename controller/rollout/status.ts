import type { Catalog } from '../catalog/catalog.js';
import type { LiveStateStore } from '../profiles.js';
import type { RolloutStore } from './store.js';
import { EdgefitError } from '../../protocol/errors.js';
import { meanAbsPctError, predictionErrorPct } from '../../compress/latency/predict.js';
import type { Measurement } from './store.js';

const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;

/**
 * The class's predictions scored: each profiled candidate the predictor had
 * predicted before its profile was sent, predicted against measured mean
 * model latency (ms) and the signed error; `mapePct` the mean absolute error
 * over them (null while none is scored), `predictorMapePct` the leave-one-out
 * error the predictor had when it last predicted.
 */
export function classPredictions(ms: readonly Measurement[], nameOf: (id: string) => string | null) {
  const rows = ms
    .filter((m) => m.predictedMs !== undefined)
    .map((m) => {
      const measuredMs = m.outcome?.ok && m.outcome.modelMs !== undefined ? m.outcome.modelMs : null;
      return { candidate: nameOf(m.candidateId), ep: m.ep, predictedMs: round(m.predictedMs!), measuredMs: measuredMs === null ? null : round(measuredMs), errorPct: measuredMs === null ? null : round(predictionErrorPct(m.predictedMs!, measuredMs), 1) };
    });
  const scored = rows.filter((r): r is typeof r & { measuredMs: number } => r.measuredMs !== null);
  const last = [...ms].reverse().find((m) => m.predictionMapePct !== undefined);
  return { rows, mapePct: scored.length ? round(meanAbsPctError(scored), 1) : null, predictorMapePct: last ? round(last.predictionMapePct!, 1) : null };
}

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
  if (!rollout) throw new EdgefitError('E_ROLLOUT_UNKNOWN', { id });
  const ladder = deps.catalog.candidates(rollout.spec.model);
  const nameOf = (cid: string | null) => (cid ? (ladder.find((c) => c.id === cid)?.name ?? cid) : null);
  const rows = deps.store.devices(id);
  const devices = rows.map((d) => {
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
      /** The execution provider the candidate was chosen on and is served on (null: not chosen yet, or chosen by an older controller: cpu). */
      ep: d.ep,
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
  const ladderSize = ladder.filter((c) => !rollout.spec.candidates || rollout.spec.candidates.includes(c.id) || rollout.spec.candidates.includes(c.name)).length;
  const classes = [...new Set(measurements.map((m) => m.deviceClass))].map((deviceClass) => {
    const ms = measurements.filter((m) => m.deviceClass === deviceClass);
    // Exhaustive profiling measures every candidate on every provider of the class: the planner's own count once
    // the class has chosen, else the ladder on the providers measured so far.
    const chosen = rows.find((d) => d.deviceClass === deviceClass && d.choice && 'exhaustive' in d.choice)?.choice as { exhaustive?: number } | undefined;
    return {
      deviceClass,
      profiles: ms.length,
      exhaustive: chosen?.exhaustive ?? ladderSize * Math.max(1, new Set(ms.map((m) => m.ep)).size),
      providers: [...new Set(ms.map((m) => m.ep))],
      measurements: ms.map((m) => ({ candidate: nameOf(m.candidateId), ep: m.ep, deviceId: m.deviceId, jobId: m.jobId, outcome: m.outcome, ...(m.predictedMs !== undefined ? { predictedMs: m.predictedMs } : {}) })),
      predictions: classPredictions(ms, nameOf),
    };
  });
  return { ...rollout, devices, classes, events: opts.events === 0 ? [] : deps.store.events(id, opts.events ?? 200) };
}

/** One rollout as the API and the dashboard's event stream carry it. */
export type RolloutSummary = ReturnType<typeof rolloutStatus>;
