// The fault campaign's invariants, checked on what a run leaves behind: the
// controller's SQLite rows, the desired state it keeps per device, what each
// device reports, and the results each agent finished (its state dir's
// results/). Pure: a snapshot in, the broken invariants out, each with a
// reason a person can act on. Terminal states and the rollout's own end come
// from controller/rollout/states.ts, so the checker and the engine agree on
// what "done" means.
import { TERMINAL, type DeviceState } from '../../controller/rollout/states.js';

export const INVARIANTS = ['rollout-finished', 'device-terminal', 'desired-matches-outcome', 'reported-matches-desired', 'profile-lost', 'profile-counted-twice', 'events-match-state'] as const;
export type Invariant = (typeof INVARIANTS)[number];

export interface Broken {
  invariant: Invariant;
  /** The rollout, device or job the reason is about. */
  subject: string;
  reason: string;
}

/** The parts of a desired or reported state the invariants read. */
export interface DesiredView {
  generation: number;
  rolloutId?: string;
  candidateId?: string;
  model: { sha256: string } | null;
}

export interface ReportedView {
  generation: number;
  rolloutId?: string;
  state: string;
  activeModel: { sha256: string } | null;
}

export interface Outcome {
  ok: boolean;
  error?: string;
}

export interface FaultSnapshot {
  rollouts: Array<{ id: string; state: string; stage: number; reason: string | null }>;
  devices: Array<{ rolloutId: string; deviceId: string; state: string; generation: number | null; candidateId: string | null; attempts: number; error: string | null }>;
  measurements: Array<{ rolloutId: string; deviceClass: string; candidateId: string; ep: string; jobId: string; deviceId: string; outcome: Outcome | null }>;
  /** The profiles table: one row per (job, device) stored; `checkOk` false where its on-device check failed it. */
  profiles: Array<{ jobId: string; deviceId: string; ok: boolean; checkOk?: boolean | null }>;
  /** Device events in order (seq ascending). */
  events: Array<{ rolloutId: string; deviceId: string | null; to: string }>;
  /** The desired state the controller keeps per device (desired_state); absent: never given one. */
  desired: Record<string, DesiredView | undefined>;
  /** What each device reports now (null: nothing reported). */
  reported: Record<string, ReportedView | null | undefined>;
  /** The results each agent finished and keeps on its disk (results/*.json), by device. */
  agentResults: Record<string, Array<{ jobId: string; ok: boolean }>>;
}

const FINISHED_ROLLOUT = new Set(['completed', 'aborted']);
/** Outcomes the controller writes without a device's answer: a settled job, not a result. */
const NOT_A_RESULT = [/^not measured: /, /^cannot send the job: /];

/** Every invariant of the snapshot that does not hold, in INVARIANTS order; empty when the run left everything consistent. */
export function checkInvariants(s: FaultSnapshot): Broken[] {
  const broken: Broken[] = [];
  const add = (invariant: Invariant, subject: string, reason: string) => broken.push({ invariant, subject, reason });

  for (const r of s.rollouts) {
    if (!FINISHED_ROLLOUT.has(r.state)) {
      const open = s.devices.filter((d) => d.rolloutId === r.id && !TERMINAL.has(d.state as DeviceState)).map((d) => `${d.deviceId} ${d.state}`);
      add('rollout-finished', r.id, `rollout is still ${r.state} at stage ${r.stage}${open.length ? ` (${open.join(', ')})` : ''}`);
    }
  }

  for (const d of s.devices) {
    if (!TERMINAL.has(d.state as DeviceState)) add('device-terminal', `${d.rolloutId}/${d.deviceId}`, `device is ${d.state}, not in a terminal state${d.error ? ` (${d.error})` : ''}`);
  }

  // The desired state the controller keeps must say what the device's end state says.
  for (const d of s.devices) {
    const want = s.desired[d.deviceId];
    const ours = want?.rolloutId === d.rolloutId && want.candidateId === d.candidateId && want.model !== null;
    const subject = `${d.rolloutId}/${d.deviceId}`;
    if (d.state === 'healthy') {
      if (!want || !ours) add('desired-matches-outcome', subject, `healthy on ${d.candidateId}, but its desired state names ${want ? (want.candidateId ?? (want.model ? want.model.sha256.slice(0, 12) : 'no model')) : 'nothing'}`);
      else if (want.generation !== d.generation) add('desired-matches-outcome', subject, `healthy at generation ${d.generation}, but its desired state is generation ${want.generation}`);
    } else if (TERMINAL.has(d.state as DeviceState) && ours) {
      add('desired-matches-outcome', subject, `${d.state}, but its desired state still names this rollout's candidate ${d.candidateId} (generation ${want!.generation})`);
    }
  }

  // What the device reports is what the controller wants, generation and model alike.
  for (const deviceId of [...new Set(s.devices.map((d) => d.deviceId))]) {
    const want = s.desired[deviceId];
    const got = s.reported[deviceId] ?? null;
    if (!want) {
      if (got && got.generation > 0) add('reported-matches-desired', deviceId, `reports generation ${got.generation} (${got.state}) but was never given a desired state`);
      continue;
    }
    if (!got) {
      add('reported-matches-desired', deviceId, `desired generation ${want.generation} (${want.model ? want.model.sha256.slice(0, 12) : 'no model'}), nothing reported`);
      continue;
    }
    if (got.generation !== want.generation) {
      add('reported-matches-desired', deviceId, `desired generation ${want.generation}, reports generation ${got.generation} (${got.state})`);
      continue;
    }
    if (want.model === null) {
      if (got.state !== 'idle' || got.activeModel !== null) add('reported-matches-desired', deviceId, `desired serves nothing (generation ${want.generation}), reports ${got.state} with ${got.activeModel?.sha256.slice(0, 12) ?? 'no model'}`);
    } else if (got.state !== 'healthy' || got.activeModel?.sha256 !== want.model.sha256) {
      add('reported-matches-desired', deviceId, `desired ${want.model.sha256.slice(0, 12)} healthy (generation ${want.generation}), reports ${got.state} serving ${got.activeModel?.sha256.slice(0, 12) ?? 'nothing'}`);
    }
  }

  // No profile result lost: a job a device finished is stored, and a stored result is what its measurement counts.
  // a result whose on-device check failed counts as a failure (profile-jobs.ts outcomeOf)
  const stored = new Map<string, { ok: boolean }>();
  for (const p of s.profiles) stored.set(`${p.jobId} ${p.deviceId}`, { ok: p.ok && p.checkOk !== false });
  for (const m of s.measurements) {
    const subject = `${m.jobId} on ${m.deviceId}`;
    const row = stored.get(`${m.jobId} ${m.deviceId}`);
    const finished = (s.agentResults[m.deviceId] ?? []).find((r) => r.jobId === m.jobId);
    if (finished && !row) add('profile-lost', subject, `the agent finished it (${finished.ok ? 'ok' : 'failed'}) but the controller never stored its result`);
    if (m.outcome === null) {
      add('profile-lost', subject, row ? 'its result is stored but the measurement was never settled' : 'the measurement was never settled');
      continue;
    }
    const settledWithout = NOT_A_RESULT.some((re) => re.test(m.outcome!.error ?? ''));
    if (row && !settledWithout && row.ok !== m.outcome.ok) add('profile-lost', subject, `stored result is ${row.ok ? 'ok' : 'failed'} but the measurement counts ${m.outcome.ok ? 'ok' : `a failure (${m.outcome.error ?? 'no reason'})`}`);
  }

  // Nothing counted twice: one stored result per (job, device), one measurement per job and per (class, candidate, provider).
  const seen = (keys: string[], what: string) => {
    const counts = new Map<string, number>();
    for (const k of keys) counts.set(k, (counts.get(k) ?? 0) + 1);
    for (const [k, n] of counts) if (n > 1) add('profile-counted-twice', k, `${n} ${what}`);
  };
  seen(s.profiles.map((p) => `${p.jobId} on ${p.deviceId}`), 'stored results for one job and device');
  seen(s.measurements.map((m) => m.jobId), 'measurements with one job id');
  seen(s.measurements.map((m) => `${m.rolloutId} ${m.deviceClass} ${m.candidateId} ${m.ep}`), 'measurements of one candidate on one class and provider');

  // Every device's event log ends where the device is.
  const last = new Map<string, string>();
  for (const e of s.events) if (e.deviceId !== null) last.set(`${e.rolloutId}/${e.deviceId}`, e.to);
  for (const d of s.devices) {
    const key = `${d.rolloutId}/${d.deviceId}`;
    const to = last.get(key) ?? 'pending';
    if (to !== d.state) add('events-match-state', key, `device is ${d.state} but its last event says ${to}`);
  }

  return broken.sort((a, b) => INVARIANTS.indexOf(a.invariant) - INVARIANTS.indexOf(b.invariant));
}
