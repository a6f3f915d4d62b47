import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { CheckRecord } from '../../controller/check/checker.js';
import { migrate, openDb, type Db } from '../../controller/db.js';
import { ProfileStore, type StoredProfile } from '../../controller/profiles.js';
import { ResultIntake } from '../../controller/result-intake.js';
import type { ProfileReport, Result } from '../../protocol/messages.js';
import { PROTOCOL_VERSION } from '../../protocol/topics.js';
import { captureLogger } from '../helpers/log.js';
import { waitFor } from '../helpers/wait.js';

const verdict: CheckRecord = { fidelity: null, ok: false, reason: 'on-device check: finds 0 objects on 1 reference frame where the base model finds 5 (under 10 %)', threshold: 0.9, frames: 1, deviceMs: 40, controllerMs: 90 };
// Only what the intake and the store look at: a check report, or none.
const withCheck = (jobId: string, check: boolean): Result => ({ v: PROTOCOL_VERSION, ts: Date.now(), jobId, deviceId: 'jetson', kind: 'profile', artifactSha256: 'ab'.repeat(32), ok: true, profile: (check ? { check: { frames: [{ sha256: 'cd'.repeat(32), detections: [] }], ms: 40 } } : {}) as ProfileReport });

describe('result intake with the on-device check', () => {
  let dir: string;
  let db: Db;
  let intake: ResultIntake;
  afterEach(() => {
    intake?.stop();
    db?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('stores a result with a check report only once judged, so no listener ever sees it without its verdict; one without is stored at once', async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'edgefit-check-intake-'));
    db = openDb(dir);
    const profiles = new ProfileStore(db);
    const heard: StoredProfile[] = [];
    profiles.onResult((p) => heard.push(p));
    let release!: () => void;
    const judged: string[] = [];
    intake = new ResultIntake(profiles, captureLogger().log, 20, async (r) => {
      judged.push(r.jobId);
      await new Promise<void>((resolve) => (release = resolve));
      return verdict;
    });
    intake.store(withCheck('checked', true));
    intake.store(withCheck('plain', false));
    expect(heard.map((p) => p.jobId)).toEqual(['plain']);
    expect(heard[0].check).toBeNull();
    expect(profiles.get('checked', 'jetson')).toBeUndefined();
    release();
    await waitFor(() => heard.length === 2, 5000, 'the judged result stored');
    expect(judged).toEqual(['checked']);
    expect(heard[1]).toMatchObject({ jobId: 'checked', check: verdict });
    // and it is read back from SQLite as kept
    expect(profiles.get('checked', 'jetson')!.check).toEqual(verdict);
    // delivered again (QoS 1, an outbox flushed after a reconnect): not judged a second time
    intake.store(withCheck('checked', true));
    await new Promise((r) => setTimeout(r, 50));
    expect(judged).toEqual(['checked']);
    expect(heard).toHaveLength(2);
  });

  it('opens a database from before the check: its profiles read back with no verdict, and new ones keep theirs', () => {
    dir = mkdtempSync(path.join(tmpdir(), 'edgefit-check-migrate-'));
    // the schema as the previous release left it (its six migrations: no check_verdict column), one stored profile
    const old = new Database(path.join(dir, 'edgefit.db'));
    migrate(old, 6);
    old.prepare('INSERT INTO profiles (job_id, device_id, artifact_sha256, candidate_id, ok, error, profile, finished_at, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)').run('before', 'jetson', 'ab'.repeat(32), null, 0, 'old failure', null, 1, 1);
    old.close();
    db = openDb(dir);
    expect(db.pragma('user_version', { simple: true })).toBeGreaterThan(6);
    expect(db.prepare("SELECT name FROM pragma_table_info('profiles') WHERE name = 'check_verdict'").get()).toBeDefined();
    const profiles = new ProfileStore(db);
    expect(profiles.get('before', 'jetson')).toMatchObject({ ok: false, error: 'old failure', check: null });
    profiles.record(withCheck('after', true), Date.now(), verdict);
    expect(profiles.get('after', 'jetson')!.check).toEqual(verdict);
  });
});
