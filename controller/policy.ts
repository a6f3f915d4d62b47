// The choice rule, pure: which candidate of a ladder a device runs under a
// service level, and why every better candidate was passed over. The planner
// (planner.ts) decides what to measure; this module only judges evidence.

export const ACCURACY_KINDS = ['fidelity', 'map50-95', 'declared', 'none-synthetic'] as const;
export type AccuracyKind = (typeof ACCURACY_KINDS)[number];

/** A candidate's accuracy, always labelled by where the figure comes from; synthetic models have none. */
export interface Accuracy {
  value: number | null;
  kind: AccuracyKind;
}

/** What the policy and the planner need to know about one candidate of a ladder. */
export interface LadderCandidate {
  id: string;
  name: string;
  /** Precision family (fp32, fp16, int8): latency is monotone in FLOPs within one. */
  family: string;
  flops: number;
  sizeBytes: number;
  imgsz: number;
  accuracy: Accuracy;
}

/** Service level: every bound is optional; a device meets it when it meets each given bound. */
export interface ServiceLevel {
  minFps?: number;
  maxP95Ms?: number;
  maxMemoryMb?: number;
  maxTempC?: number;
}

/**
 * Serving adds work a profile does not time (frame capture, telemetry, the
 * agent's own loop) and measurements vary: a candidate chosen right at the
 * boundary would miss the level once deployed. Choices are therefore made
 * against the level tightened by a headroom: minFps raised and maxP95Ms
 * lowered by that percentage.
 */
export const DEFAULT_HEADROOM_PCT = 10;

export function withHeadroom(slo: ServiceLevel, headroomPct = DEFAULT_HEADROOM_PCT): ServiceLevel {
  const k = 1 + headroomPct / 100;
  const round = (x: number) => Math.round(x * 100) / 100;
  return {
    ...slo,
    ...(slo.minFps !== undefined ? { minFps: round(slo.minFps * k) } : {}),
    ...(slo.maxP95Ms !== undefined ? { maxP95Ms: round(slo.maxP95Ms / k) } : {}),
  };
}

/** What a profile measured (end to end, on the device) or what the planner predicts. */
export interface Metrics {
  fps: number;
  p95Ms: number;
  memoryMb: number;
  /** null: no sensor (never counted as a violation), or not predicted. */
  tempC: number | null;
}

export type Evidence =
  | { basis: 'measured'; metrics: Metrics }
  | { basis: 'failed'; error: string }
  | { basis: 'predicted'; metrics: Metrics }
  /** Same precision family, at least as many FLOPs as `by`, which measured over the limit. */
  | { basis: 'implied'; by: string; violations: string[] }
  | { basis: 'unknown' };

const fmt = (x: number) => (Math.abs(x) >= 100 ? x.toFixed(0) : x.toFixed(1));

/** Each bound the metrics break, as a short sentence with both numbers ("fps 11.2 < 15"). */
export function sloViolations(m: Metrics, slo: ServiceLevel): string[] {
  const out: string[] = [];
  if (slo.minFps !== undefined && !(m.fps >= slo.minFps)) out.push(`fps ${fmt(m.fps)} < ${slo.minFps}`);
  if (slo.maxP95Ms !== undefined && !(m.p95Ms <= slo.maxP95Ms)) out.push(`p95 ${fmt(m.p95Ms)} ms > ${slo.maxP95Ms} ms`);
  if (slo.maxMemoryMb !== undefined && !(m.memoryMb <= slo.maxMemoryMb)) out.push(`memory ${fmt(m.memoryMb)} MB > ${slo.maxMemoryMb} MB`);
  if (slo.maxTempC !== undefined && m.tempC !== null && !(m.tempC <= slo.maxTempC)) out.push(`temperature ${fmt(m.tempC)} °C > ${slo.maxTempC} °C`);
  return out;
}

/**
 * How far past its bound the worst violated metric is, as a fraction of the
 * bound (0.25 = 25 % over); 0 when the service level is met. The planner skips
 * a predicted candidate only when it misses by more than its margin.
 */
export function sloExcess(m: Metrics, slo: ServiceLevel): number {
  let worst = 0;
  if (slo.minFps !== undefined) worst = Math.max(worst, (slo.minFps - m.fps) / slo.minFps);
  if (slo.maxP95Ms !== undefined) worst = Math.max(worst, (m.p95Ms - slo.maxP95Ms) / slo.maxP95Ms);
  if (slo.maxMemoryMb !== undefined) worst = Math.max(worst, (m.memoryMb - slo.maxMemoryMb) / slo.maxMemoryMb);
  if (slo.maxTempC !== undefined && m.tempC !== null) worst = Math.max(worst, (m.tempC - slo.maxTempC) / slo.maxTempC);
  return worst;
}

/**
 * 'accuracy' when some candidate has an accuracy figure; otherwise the ladder
 * is synthetic (or unmeasured) and the objective falls back to the largest
 * input size, then the most FLOPs, that meets the service level.
 */
export type ObjectiveMode = 'accuracy' | 'size';

export function objectiveMode(ladder: readonly LadderCandidate[]): ObjectiveMode {
  return ladder.some((c) => c.accuracy.value !== null) ? 'accuracy' : 'size';
}

/** Latency used to break ties: measured, else predicted, else unknown. */
export function latencyOf(e: Evidence | undefined): number | undefined {
  if (e && (e.basis === 'measured' || e.basis === 'predicted')) return 1000 / e.metrics.fps;
  return undefined;
}

/**
 * Candidates best first under the objective: highest accuracy (candidates
 * without a figure after those with one) or, in size mode, largest input then
 * most FLOPs; ties go to lower latency, then fewer FLOPs, then id.
 */
export function rankByObjective(ladder: readonly LadderCandidate[], evidence: ReadonlyMap<string, Evidence>): LadderCandidate[] {
  const mode = objectiveMode(ladder);
  const key = (c: LadderCandidate): number[] => (mode === 'accuracy' ? [c.accuracy.value ?? -Infinity] : [c.imgsz, c.flops]);
  return [...ladder].sort((a, b) => {
    const ka = key(a);
    const kb = key(b);
    for (let i = 0; i < ka.length; i++) if (ka[i] !== kb[i]) return kb[i] - ka[i];
    const la = latencyOf(evidence.get(a.id)) ?? Infinity;
    const lb = latencyOf(evidence.get(b.id)) ?? Infinity;
    if (la !== lb) return la - lb;
    if (a.flops !== b.flops) return a.flops - b.flops;
    return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
  });
}

/** Same objective key: the two differ only in latency. */
export function tiedByObjective(a: LadderCandidate, b: LadderCandidate, mode: ObjectiveMode): boolean {
  return mode === 'accuracy' ? a.accuracy.value === b.accuracy.value : a.imgsz === b.imgsz && a.flops === b.flops;
}

export interface Rejection {
  candidateId: string;
  /** The execution provider it was judged on, when the ladder was planned per (candidate, provider). */
  ep?: string;
  name: string;
  basis: Evidence['basis'];
  /** Which constraint it failed, in words. */
  reasons: string[];
}

export interface Choice {
  candidateId: string | null;
  /** The execution provider of the choice, when the ladder was planned per (candidate, provider). */
  ep?: string;
  name: string | null;
  mode: ObjectiveMode;
  /** The chosen candidate's measured metrics. */
  metrics: Metrics | null;
  /** Every candidate ranked above the choice, with the constraint it failed. */
  rejected: Rejection[];
  explanation: string;
}

function describeAccuracy(c: LadderCandidate): string {
  if (c.accuracy.value === null) return c.accuracy.kind === 'none-synthetic' ? 'synthetic weights, no accuracy' : 'no accuracy figure';
  return `${c.accuracy.kind} ${c.accuracy.value.toFixed(3)}`;
}

function reasonsFor(e: Evidence, slo: ServiceLevel, ladder: readonly LadderCandidate[]): string[] | null {
  switch (e.basis) {
    case 'measured': {
      const v = sloViolations(e.metrics, slo);
      return v.length ? v.map((r) => `${r} (measured)`) : null;
    }
    case 'failed':
      return [`profile failed: ${e.error}`];
    case 'predicted': {
      const v = sloViolations(e.metrics, slo);
      return v.length ? v.map((r) => `${r} (predicted from this class's latency model)`) : null;
    }
    case 'implied': {
      const by = ladder.find((c) => c.id === e.by)?.name ?? e.by;
      return [`at least as slow as ${by} (same precision, fewer or equal FLOPs), which failed ${e.violations.join(', ')}`];
    }
    case 'unknown':
      return ['not measured'];
  }
}

/**
 * The best candidate whose *measured* metrics meet the service level; only a
 * measurement can make a candidate the choice. Every candidate ranked above it
 * is listed with the constraint it failed and on what basis.
 */
export function choose(ladder: readonly LadderCandidate[], evidence: ReadonlyMap<string, Evidence>, slo: ServiceLevel): Choice {
  const mode = objectiveMode(ladder);
  const ranked = rankByObjective(ladder, evidence);
  const rejected: Rejection[] = [];
  const objective =
    mode === 'accuracy'
      ? 'objective: highest accuracy that meets the service level, ties to lower latency'
      : 'objective: no candidate has an accuracy figure (synthetic weights are only good for latency), so the largest input size, then the most FLOPs, that meets the service level';
  for (const c of ranked) {
    const e = evidence.get(c.id) ?? { basis: 'unknown' as const };
    const reasons = reasonsFor(e, slo, ladder);
    if (reasons === null && e.basis === 'measured') {
      const m = e.metrics;
      const passed = rejected.length ? `; ${rejected.length} better-ranked candidate(s) failed: ${rejected.map((r) => `${r.name} (${r.reasons.join('; ')})`).join(', ')}` : '; it is the best-ranked candidate';
      return {
        candidateId: c.id,
        name: c.name,
        mode,
        metrics: m,
        rejected,
        explanation: `${c.name} [${describeAccuracy(c)}]: measured ${fmt(m.fps)} FPS, p95 ${fmt(m.p95Ms)} ms, ${fmt(m.memoryMb)} MB${m.tempC === null ? '' : `, ${fmt(m.tempC)} °C`} meets the service level${passed}. ${objective}.`,
      };
    }
    rejected.push({ candidateId: c.id, name: c.name, basis: e.basis, reasons: reasons ?? ['predicted to meet the service level but not measured'] });
  }
  return {
    candidateId: null,
    name: null,
    mode,
    metrics: null,
    rejected,
    explanation: `no candidate meets the service level: ${rejected.map((r) => `${r.name} (${r.reasons.join('; ')})`).join(', ') || 'the ladder is empty'}. ${objective}.`,
  };
}
