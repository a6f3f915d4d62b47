// Rollout state in SQLite: rollouts, their devices (the per-device state
// machine), every transition as an event, and the class measurements the
// planner works from. A transition is written here before anything announces it:
// change listeners hear of a rollout only once its new state can be read back.
import { randomBytes } from 'node:crypto';
import type { Desired, ExecutionProvider } from '../../protocol/messages.js';
import type { Db } from '../db.js';
import type { Outcome } from '../planner.js';
import type { Choice } from '../policy.js';
import type { RolloutSpec } from './spec.js';
import { ACTIVE_ROLLOUT_STATES, assertTransition, holdsDevice, type DeviceState, type RolloutState } from './states.js';

export interface Rollout {
  id: string;
  spec: RolloutSpec;
  state: RolloutState;
  stage: number;
  reason: string | null;
  createdAt: number;
  updatedAt: number;
}

export interface RolloutDevice {
  rolloutId: string;
  deviceId: string;
  deviceClass: string | null;
  stage: number;
  state: DeviceState;
  resumeState: DeviceState | null;
  candidateId: string | null;
  /** The execution provider the device was given with its candidate (null: not chosen yet). */
  ep: ExecutionProvider | null;
  choice: Choice | null;
  generation: number | null;
  previousDesired: Desired | null;
  attempts: number;
  error: string | null;
  stateSince: number;
  /** When this rollout last sent the device its desired state (null: never). */
  sentAt: number | null;
}

export interface Measurement {
  deviceClass: string;
  candidateId: string;
  ep: ExecutionProvider;
  jobId: string;
  deviceId: string;
  outcome: Outcome | null;
  sentAt: number;
  /** The class's predicted model latency (ms) before the profile was sent, and the predictor's MAPE (%) then; absent without a predictor. */
  predictedMs?: number;
  predictionMapePct?: number;
}

export interface RolloutEvent {
  seq: number;
  deviceId: string | null;
  from: string | null;
  to: string;
  detail: string | null;
  at: number;
}

interface DeviceRow {
  rollout_id: string;
  device_id: string;
  device_class: string | null;
  stage: number;
  state: DeviceState;
  resume_state: DeviceState | null;
  candidate_id: string | null;
  ep: ExecutionProvider | null;
  choice: string | null;
  generation: number | null;
  previous_desired: string | null;
  attempts: number;
  error: string | null;
  state_since: number;
  sent_at: number | null;
}

const parse = <T>(s: string | null): T | null => (s === null ? null : (JSON.parse(s) as T));

function toDevice(r: DeviceRow): RolloutDevice {
  return {
    rolloutId: r.rollout_id,
    deviceId: r.device_id,
    deviceClass: r.device_class,
    stage: r.stage,
    state: r.state,
    resumeState: r.resume_state,
    candidateId: r.candidate_id,
    ep: r.ep,
    choice: parse<Choice>(r.choice),
    generation: r.generation,
    previousDesired: parse<Desired>(r.previous_desired),
    attempts: r.attempts,
    error: r.error,
    stateSince: r.state_since,
    sentAt: r.sent_at,
  };
}

/** Told the id of a rollout whose state, stage, devices or measurements were written. */
export type RolloutChangeListener = (rolloutId: string) => void;

export class RolloutStore {
  private readonly listeners = new Set<RolloutChangeListener>();

  constructor(private readonly db: Db) {}

  /** Returns the unsubscribe function. Listeners run synchronously after the write: keep them cheap. */
  onChange(listener: RolloutChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  create(spec: RolloutSpec, devices: Array<{ deviceId: string; deviceClass: string | null; stage: number }>): Rollout {
    const id = `r-${randomBytes(5).toString('hex')}`;
    const now = Date.now();
    this.db.transaction(() => {
      this.db.prepare('INSERT INTO rollouts (id, spec, state, stage, created_at, updated_at) VALUES (?, ?, ?, 0, ?, ?)').run(id, JSON.stringify(spec), 'running', now, now);
      const insert = this.db.prepare('INSERT INTO rollout_devices (rollout_id, device_id, device_class, stage, state, state_since) VALUES (?, ?, ?, ?, ?, ?)');
      for (const d of devices) insert.run(id, d.deviceId, d.deviceClass, d.stage, 'pending', now);
      this.event(id, null, null, 'running', `${devices.length} device(s) in ${new Set(devices.map((d) => d.stage)).size} stage(s)`);
    })();
    this.changed(id);
    return this.get(id)!;
  }

  get(id: string): Rollout | undefined {
    const r = this.db.prepare('SELECT * FROM rollouts WHERE id = ?').get(id) as { id: string; spec: string; state: RolloutState; stage: number; reason: string | null; created_at: number; updated_at: number } | undefined;
    return r && { id: r.id, spec: JSON.parse(r.spec) as RolloutSpec, state: r.state, stage: r.stage, reason: r.reason, createdAt: r.created_at, updatedAt: r.updated_at };
  }

  list(): Rollout[] {
    return (this.db.prepare('SELECT id FROM rollouts ORDER BY created_at').all() as Array<{ id: string }>).map((r) => this.get(r.id)!);
  }

  /**
   * Moves the rollout to `state` if it is now in one of `from`; false (and
   * nothing written) otherwise, so a pass that read the rollout before an
   * operator aborted it cannot overwrite the abort.
   */
  setState(id: string, state: RolloutState, reason: string | null, from: readonly RolloutState[]): boolean {
    const done = this.db.transaction(() => {
      const before = this.get(id);
      if (!before || !from.includes(before.state)) return false;
      this.db.prepare('UPDATE rollouts SET state = ?, reason = COALESCE(?, reason), updated_at = ? WHERE id = ?').run(state, reason, Date.now(), id);
      this.event(id, null, before.state, state, reason);
      return true;
    })();
    if (done) this.changed(id);
    return done;
  }

  /** Each given device that a running or paused rollout still holds (see holdsDevice), with that rollout. */
  activeRolloutsOf(deviceIds: readonly string[]): Array<{ deviceId: string; rolloutId: string; state: RolloutState }> {
    const wanted = new Set(deviceIds);
    const placeholders = ACTIVE_ROLLOUT_STATES.map(() => '?').join(', ');
    const rows = this.db
      .prepare(
        `SELECT d.device_id, d.state AS device_state, d.attempts, r.id, r.state, r.spec FROM rollout_devices d JOIN rollouts r ON r.id = d.rollout_id
         WHERE r.state IN (${placeholders}) ORDER BY r.created_at, d.device_id`,
      )
      .all(...ACTIVE_ROLLOUT_STATES) as Array<{ device_id: string; device_state: DeviceState; attempts: number; id: string; state: RolloutState; spec: string }>;
    return rows
      .filter((r) => wanted.has(r.device_id) && holdsDevice(r.device_state, r.attempts, (JSON.parse(r.spec) as RolloutSpec).retries))
      .map((r) => ({ deviceId: r.device_id, rolloutId: r.id, state: r.state }));
  }

  setStage(id: string, stage: number): void {
    this.db.prepare('UPDATE rollouts SET stage = ?, updated_at = ? WHERE id = ?').run(stage, Date.now(), id);
    this.event(id, null, null, `stage ${stage}`, null);
    this.changed(id);
  }

  devices(id: string): RolloutDevice[] {
    return (this.db.prepare('SELECT * FROM rollout_devices WHERE rollout_id = ? ORDER BY stage, device_id').all(id) as DeviceRow[]).map(toDevice);
  }

  device(id: string, deviceId: string): RolloutDevice | undefined {
    const row = this.db.prepare('SELECT * FROM rollout_devices WHERE rollout_id = ? AND device_id = ?').get(id, deviceId) as DeviceRow | undefined;
    return row && toDevice(row);
  }

  /** One step of the device state machine, validated, persisted with its event in one transaction. */
  transition(id: string, deviceId: string, to: DeviceState, patch: Partial<Pick<RolloutDevice, 'candidateId' | 'ep' | 'choice' | 'generation' | 'previousDesired' | 'attempts' | 'error' | 'deviceClass'>> = {}, detail?: string): RolloutDevice {
    const device = this.db.transaction(() => {
      const d = this.device(id, deviceId)!;
      assertTransition(d.state, to, d.resumeState);
      const next = { ...d, ...patch };
      const resume = to === 'offline' ? d.state : null;
      this.db
        .prepare(
          `UPDATE rollout_devices SET state = ?, resume_state = ?, candidate_id = ?, ep = ?, choice = ?, generation = ?, previous_desired = ?, attempts = ?, error = ?, device_class = ?, state_since = ?
           WHERE rollout_id = ? AND device_id = ?`,
        )
        .run(to, resume, next.candidateId, next.ep, next.choice ? JSON.stringify(next.choice) : null, next.generation, next.previousDesired ? JSON.stringify(next.previousDesired) : null, next.attempts, next.error, next.deviceClass, Date.now(), id, deviceId);
      this.event(id, deviceId, d.state, to, detail ?? patch.error ?? null);
      return this.device(id, deviceId)!;
    })();
    this.changed(id);
    return device;
  }

  /** Records fields without a state change (the desired generation sent while still 'chosen'). */
  patch(id: string, deviceId: string, patch: Partial<Pick<RolloutDevice, 'generation' | 'previousDesired' | 'deviceClass' | 'sentAt'>>): RolloutDevice {
    const d = this.device(id, deviceId)!;
    const next = { ...d, ...patch };
    this.db
      .prepare('UPDATE rollout_devices SET generation = ?, previous_desired = ?, device_class = ?, sent_at = ? WHERE rollout_id = ? AND device_id = ?')
      .run(next.generation, next.previousDesired ? JSON.stringify(next.previousDesired) : null, next.deviceClass, next.sentAt, id, deviceId);
    this.changed(id);
    return this.device(id, deviceId)!;
  }

  /** The spec of the rollout that sent a profile job. */
  specOfJob(jobId: string): RolloutSpec | undefined {
    const row = this.db.prepare('SELECT r.spec FROM rollout_measurements m JOIN rollouts r ON r.id = m.rollout_id WHERE m.job_id = ? LIMIT 1').get(jobId) as { spec: string } | undefined;
    return row && (JSON.parse(row.spec) as RolloutSpec);
  }

  measurements(id: string, deviceClass?: string): Measurement[] {
    const rows = (deviceClass === undefined
      ? this.db.prepare('SELECT * FROM rollout_measurements WHERE rollout_id = ? ORDER BY sent_at').all(id)
      : this.db.prepare('SELECT * FROM rollout_measurements WHERE rollout_id = ? AND device_class = ? ORDER BY sent_at').all(id, deviceClass)) as Array<{ device_class: string; candidate_id: string; ep: ExecutionProvider; job_id: string; device_id: string; outcome: string | null; sent_at: number; predicted_ms: number | null; prediction_mape_pct: number | null }>;
    return rows.map((r) => ({
      deviceClass: r.device_class, candidateId: r.candidate_id, ep: r.ep, jobId: r.job_id, deviceId: r.device_id, outcome: parse<Outcome>(r.outcome), sentAt: r.sent_at,
      ...(r.predicted_ms !== null ? { predictedMs: r.predicted_ms } : {}),
      ...(r.prediction_mape_pct !== null ? { predictionMapePct: r.prediction_mape_pct } : {}),
    }));
  }

  /** A measurement sent; `ep` defaults to cpu. */
  addMeasurement(id: string, m: Omit<Measurement, 'outcome' | 'ep'> & { ep?: ExecutionProvider }): void {
    this.db
      .prepare('INSERT INTO rollout_measurements (rollout_id, device_class, candidate_id, ep, job_id, device_id, sent_at, predicted_ms, prediction_mape_pct) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)')
      .run(id, m.deviceClass, m.candidateId, m.ep ?? 'cpu', m.jobId, m.deviceId, m.sentAt, m.predictedMs ?? null, m.predictionMapePct ?? null);
    this.changed(id);
  }

  /** A measurement sent again: its device's time to answer counts from `at`. */
  resent(jobId: string, deviceId: string, at: number): void {
    const rows = this.db.prepare('UPDATE rollout_measurements SET sent_at = ? WHERE job_id = ? AND device_id = ? AND outcome IS NULL RETURNING rollout_id').all(at, jobId, deviceId) as Array<{ rollout_id: string }>;
    for (const id of new Set(rows.map((r) => r.rollout_id))) this.changed(id);
  }

  /** Settles a measurement once; with `fromDevice`, only if the job was sent to that device (a result from any other is not its answer). */
  setOutcome(jobId: string, outcome: Outcome, fromDevice?: string): boolean {
    const rows = (
      fromDevice === undefined
        ? this.db.prepare('UPDATE rollout_measurements SET outcome = ? WHERE job_id = ? AND outcome IS NULL RETURNING rollout_id').all(JSON.stringify(outcome), jobId)
        : this.db.prepare('UPDATE rollout_measurements SET outcome = ? WHERE job_id = ? AND device_id = ? AND outcome IS NULL RETURNING rollout_id').all(JSON.stringify(outcome), jobId, fromDevice)
    ) as Array<{ rollout_id: string }>;
    for (const id of new Set(rows.map((r) => r.rollout_id))) this.changed(id);
    return rows.length > 0;
  }

  /** The rollouts a device takes part in, so that news from the device can reach their views. */
  rolloutsOf(deviceId: string): string[] {
    return (this.db.prepare('SELECT rollout_id FROM rollout_devices WHERE device_id = ?').all(deviceId) as Array<{ rollout_id: string }>).map((r) => r.rollout_id);
  }

  events(id: string, limit = 500): RolloutEvent[] {
    return (this.db.prepare('SELECT * FROM rollout_events WHERE rollout_id = ? ORDER BY seq DESC LIMIT ?').all(id, limit) as Array<{ seq: number; device_id: string | null; from_state: string | null; to_state: string; detail: string | null; at: number }>)
      .reverse()
      .map((e) => ({ seq: e.seq, deviceId: e.device_id, from: e.from_state, to: e.to_state, detail: e.detail, at: e.at }));
  }

  private changed(id: string): void {
    for (const listener of this.listeners) listener(id);
  }

  private event(id: string, deviceId: string | null, from: string | null, to: string, detail: string | null): void {
    this.db.prepare('INSERT INTO rollout_events (rollout_id, device_id, from_state, to_state, detail, at) VALUES (?, ?, ?, ?, ?, ?)').run(id, deviceId, from, to, detail, Date.now());
  }
}
