import type { CheckRecord } from './check/checker.js';
import type { Db } from './db.js';
import type { Desired, ProfileReport, Reported, Result, Telemetry } from '../protocol/messages.js';
import { DeviceOutputs } from './live/device-outputs.js';
import { EdgefitError } from '../protocol/errors.js';

export interface StoredProfile {
  jobId: string;
  deviceId: string;
  artifactSha256: string;
  candidateId: string | null;
  ok: boolean;
  error: string | null;
  profile: ProfileReport | null;
  /** The on-device check's verdict; null when the profile carried no check. */
  check: CheckRecord | null;
  finishedAt: number;
  receivedAt: number;
}

interface ProfileRow {
  job_id: string;
  device_id: string;
  artifact_sha256: string;
  candidate_id: string | null;
  ok: number;
  error: string | null;
  profile: string | null;
  check_verdict: string | null;
  finished_at: number;
  received_at: number;
}

function toProfile(row: ProfileRow): StoredProfile {
  return {
    jobId: row.job_id,
    deviceId: row.device_id,
    artifactSha256: row.artifact_sha256,
    candidateId: row.candidate_id,
    ok: row.ok === 1,
    error: row.error,
    profile: row.profile ? (JSON.parse(row.profile) as ProfileReport) : null,
    check: row.check_verdict ? (JSON.parse(row.check_verdict) as CheckRecord) : null,
    finishedAt: row.finished_at,
    receivedAt: row.received_at,
  };
}

/** The result was stored, but a listener failed on it: writing it again would only find a duplicate. */
export class ListenerFailure extends EdgefitError<'E_RESULT_LISTENER'> {
  override name = 'ListenerFailure';
  constructor(readonly failures: unknown[]) {
    super('E_RESULT_LISTENER', { reason: failures.map((e) => (e instanceof Error ? e.message : String(e))).join('; ') });
  }
}

/**
 * Profiling results, one row per job and device: a result delivered twice
 * (QoS 1) is stored once, and one device cannot take another's job id.
 */
export class ProfileStore {
  private readonly listeners = new Set<(profile: StoredProfile) => void>();

  constructor(private readonly db: Db) {}

  /** Stores a result (with the verdict of its on-device check, if any); false when this device's result for this job was already stored. */
  record(result: Result, now = Date.now(), check?: CheckRecord): boolean {
    const inserted = this.db
      .prepare(
        `INSERT OR IGNORE INTO profiles (job_id, device_id, artifact_sha256, candidate_id, ok, error, profile, check_verdict, finished_at, received_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(result.jobId, result.deviceId, result.artifactSha256, result.candidateId ?? null, result.ok ? 1 : 0, result.error ?? null, result.profile ? JSON.stringify(result.profile) : null, check ? JSON.stringify(check) : null, result.ts, now);
    if (inserted.changes === 0) return false;
    const stored = this.get(result.jobId, result.deviceId)!;
    // every listener hears of the row even when one fails, and the caller learns the row is in
    const failures: unknown[] = [];
    for (const listener of this.listeners) {
      try {
        listener(stored);
      } catch (err) {
        failures.push(err);
      }
    }
    if (failures.length) throw new ListenerFailure(failures);
    return true;
  }

  /** The result of a job from `deviceId`; without it, the first result received for the job. */
  get(jobId: string, deviceId?: string): StoredProfile | undefined {
    const row = (
      deviceId === undefined
        ? this.db.prepare('SELECT * FROM profiles WHERE job_id = ? ORDER BY received_at, device_id LIMIT 1').get(jobId)
        : this.db.prepare('SELECT * FROM profiles WHERE job_id = ? AND device_id = ?').get(jobId, deviceId)
    ) as ProfileRow | undefined;
    return row && toProfile(row);
  }

  forDevice(deviceId: string, limit = 100): StoredProfile[] {
    return (this.db.prepare('SELECT * FROM profiles WHERE device_id = ? ORDER BY finished_at DESC LIMIT ?').all(deviceId, limit) as ProfileRow[]).map(toProfile);
  }

  onResult(listener: (profile: StoredProfile) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

/**
 * The generation of a device's next desired state. A device may report a
 * higher one than the stored one (this controller's database was reset, or
 * restored from a backup): it ignores anything lower, so count on from the
 * higher of the two.
 */
export function nextGeneration(stored: Desired | null | undefined, reported: Reported | null): number {
  return Math.max(stored?.generation ?? 0, reported?.generation ?? 0) + 1;
}

/** The desired state last set per device, kept so it can be published again after a broker restart. */
export class DesiredStore {
  constructor(private readonly db: Db) {}

  set(deviceId: string, desired: Desired, now = Date.now()): void {
    this.db
      .prepare('INSERT INTO desired_state (device_id, desired, updated_at) VALUES (?, ?, ?) ON CONFLICT (device_id) DO UPDATE SET desired = excluded.desired, updated_at = excluded.updated_at')
      .run(deviceId, JSON.stringify(desired), now);
  }

  get(deviceId: string): Desired | undefined {
    const row = this.db.prepare('SELECT desired FROM desired_state WHERE device_id = ?').get(deviceId) as { desired: string } | undefined;
    return row && (JSON.parse(row.desired) as Desired);
  }

  deviceIds(): string[] {
    return (this.db.prepare('SELECT device_id FROM desired_state').all() as Array<{ device_id: string }>).map((r) => r.device_id);
  }

  /** A removed device's: its retained desired state is cleared at the broker, and a device added again under its id starts with none. */
  forget(deviceId: string): void {
    this.db.prepare('DELETE FROM desired_state WHERE device_id = ?').run(deviceId);
  }
}

export interface LiveState {
  telemetry: Telemetry | null;
  reported: Reported | null;
}

/** The latest telemetry and reported state per device; live data, rebuilt from the devices after a restart. */
export class LiveStateStore {
  /** The latest detections record and snapshot per device (issue #19), beside telemetry and reported state. */
  readonly outputs = new DeviceOutputs();
  private readonly state = new Map<string, LiveState>();
  private readonly listeners = new Set<(deviceId: string, state: LiveState) => void>();

  get(deviceId: string): LiveState {
    return this.state.get(deviceId) ?? { telemetry: null, reported: null };
  }

  recordTelemetry(deviceId: string, telemetry: Telemetry): void {
    this.update(deviceId, { ...this.get(deviceId), telemetry });
  }

  recordReported(deviceId: string, reported: Reported): void {
    this.update(deviceId, { ...this.get(deviceId), reported });
  }

  onChange(listener: (deviceId: string, state: LiveState) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private update(deviceId: string, state: LiveState): void {
    this.state.set(deviceId, state);
    for (const listener of this.listeners) listener(deviceId, state);
  }
}
