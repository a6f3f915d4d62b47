// The plan of one device class in a rollout, pure: from the ladder, what the
// class has measured so far, the service level and the class's waiting
// devices, either wait for the profile that is out, ask for the next
// measurement (and say which device runs it), or give every waiting device
// the choice with its explanation. The rollout engine applies the verdict.
import { planStep, type LatencyHints, type Outcome, type PredictionSkip } from './planner.js';
import { choose, rankByObjective, type Choice, type Evidence, type LadderCandidate, type ServiceLevel } from './policy.js';

export interface ClassMember {
  deviceId: string;
  online: boolean;
}

export interface ClassMeasurement {
  candidateId: string;
  /** null: the profile is still out. */
  outcome: Outcome | null;
}

export interface ClassPlanInput {
  ladder: readonly LadderCandidate[];
  /** The service level already tightened by the headroom (see withHeadroom). */
  slo: ServiceLevel;
  headroomPct: number;
  measurements: readonly ClassMeasurement[];
  /** The class's devices waiting for a choice (pending or profiling), in rollout order. */
  members: readonly ClassMember[];
  /** Deploy the best-ranked candidate without profiling. */
  skipProfiling: boolean;
  /** Set when the class cannot run any of the ladder (no provider the spec allows): every member fails with it. */
  unavailable?: string;
  /** The class's latency predictor, keyed by ladder id: orders probes and rules candidates out (planner.ts). */
  latency?: LatencyHints;
}

/** A choice as a rollout stores it: with the planner's cost when the class was profiled. */
export type ClassChoice = Choice & { profiles?: number; exhaustive?: number; skipped?: PredictionSkip[] };

export type ClassPlan =
  | { kind: 'wait'; why: string }
  /** `profiler`: the first online member, null when none is online (nothing to send now). */
  /** `predictedMs`: what the class's predictor said of it before the profile (stored beside the measurement). */
  | { kind: 'measure'; candidateId: string; why: string; profiler: string | null; predictedMs?: number }
  /** `choice.candidateId` null: nothing meets the level, every member fails with the explanation. `evidence`: what was known of each candidate. */
  | { kind: 'choose'; choice: ClassChoice; evidence?: ReadonlyMap<string, Evidence> };

export function planClass(input: ClassPlanInput): ClassPlan {
  const { ladder, slo, headroomPct, measurements, members } = input;
  if (input.unavailable !== undefined || ladder.length === 0) {
    const explanation = input.unavailable ?? 'no candidate to choose from';
    return { kind: 'choose', choice: { candidateId: null, name: null, mode: 'accuracy', metrics: null, rejected: [], explanation } };
  }
  if (measurements.some((m) => m.outcome === null)) return { kind: 'wait', why: 'class is being profiled' };
  if (input.skipProfiling) {
    const top = rankByObjective(ladder, new Map())[0];
    const explanation = `${top.name}: deployed without profiling (the spec sets skipProfiling); the service level is checked only by the device's health check.`;
    return { kind: 'choose', choice: { candidateId: top.id, name: top.name, mode: 'accuracy', metrics: null, rejected: [], explanation } };
  }
  const measured = new Map(measurements.map((m) => [m.candidateId, m.outcome!] as const));
  const step = planStep(ladder, slo, measured, input.latency ? { latency: input.latency } : {});
  if (step.kind === 'measure') {
    const predictedMs = input.latency?.predictedMs.get(step.candidateId);
    return { kind: 'measure', candidateId: step.candidateId, why: step.why, profiler: members.find((d) => d.online)?.deviceId ?? null, ...(predictedMs !== undefined ? { predictedMs } : {}) };
  }
  const chosen = choose(ladder, step.evidence, slo);
  // a candidate ruled out by the predictor is rejected for that reason, in its words, not as "not measured"
  const skipOf = new Map(step.skipped.map((s) => [s.candidateId, s] as const));
  const rejected = chosen.rejected.map((r) => (skipOf.has(r.candidateId) ? { ...r, reasons: [`${skipOf.get(r.candidateId)!.why}: not profiled`] } : r));
  const skips = step.skipped.length ? ` Skipped on the class's latency predictor: ${step.skipped.map((s) => `${ladder.find((c) => c.id === s.candidateId)?.name ?? s.candidateId} (${s.why})`).join(', ')}.` : '';
  const explanation = `${chosen.explanation} Bounds include ${headroomPct}% headroom for serving overhead. Planner: ${step.profiles} profile(s) for this class against ${step.exhaustive} for exhaustive profiling.${skips}`;
  return { kind: 'choose', choice: { ...chosen, rejected, explanation, profiles: step.profiles, exhaustive: step.exhaustive, ...(step.skipped.length ? { skipped: step.skipped } : {}) }, evidence: step.evidence };
}
