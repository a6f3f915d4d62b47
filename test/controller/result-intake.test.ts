import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openDb, type Db } from '../../controller/db.js';
import { ProfileStore } from '../../controller/profiles.js';
import { ResultIntake } from '../../controller/result-intake.js';
import type { Result } from '../../protocol/messages.js';
import { PROTOCOL_VERSION } from '../../protocol/topics.js';
import { captureLogger } from '../helpers/log.js';
import { waitFor } from '../helpers/wait.js';

const result = (jobId: string, deviceId = 'pi-a'): Result => ({ v: PROTOCOL_VERSION, ts: Date.now(), jobId, deviceId, kind: 'profile', artifactSha256: 'ab'.repeat(32), ok: false, error: 'no model' });

describe('result intake', () => {
  let dir: string;
  let db: Db;
  let intake: ResultIntake;
  afterEach(() => {
    intake?.stop();
    db?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('keeps a result the database refused and stores it once the database takes writes again', async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'edgefit-intake-'));
    db = openDb(dir);
    const profiles = new ProfileStore(db);
    const capture = captureLogger();
    intake = new ResultIntake(profiles, capture.log, 20);
    // a real SQLite refusal: the connection is read-only for as long as query_only is on
    db.pragma('query_only = ON');
    intake.store(result('job-1'));
    intake.store(result('job-2'));
    expect(intake.pending).toBe(2);
    expect(capture.lines().filter((l) => l.msg === 'profile result not stored yet; retrying')).toHaveLength(2);
    await waitFor(() => capture.lines().some((l) => l.msg === 'the database still refuses profile results; retrying'), 5000, 'a retry round');
    expect(profiles.get('job-1')).toBeUndefined();

    db.pragma('query_only = OFF');
    await waitFor(() => intake.pending === 0, 5000, 'the held results stored');
    expect(profiles.get('job-1', 'pi-a')?.error).toBe('no model');
    expect(profiles.get('job-2', 'pi-a')?.error).toBe('no model');
    // the same result delivered again (QoS 1) is still one row
    intake.store(result('job-1'));
    expect(profiles.forDevice('pi-a')).toHaveLength(2);
  });

  it('stores a result once when a listener fails on it, and says which failed', () => {
    dir = mkdtempSync(path.join(tmpdir(), 'edgefit-intake-'));
    db = openDb(dir);
    const profiles = new ProfileStore(db);
    const capture = captureLogger();
    intake = new ResultIntake(profiles, capture.log, 20);
    const heard: string[] = [];
    profiles.onResult(() => {
      throw new Error('planner exploded');
    });
    profiles.onResult((p) => heard.push(p.jobId));
    intake.store(result('job-3'));
    // not held for a retry that could only find a duplicate, and the other listener still heard of it
    expect(intake.pending).toBe(0);
    expect(heard).toEqual(['job-3']);
    expect(profiles.get('job-3', 'pi-a')?.error).toBe('no model');
    const lines = capture.lines();
    expect(lines.find((l) => l.msg === 'profile result stored, but acting on it failed')).toMatchObject({ jobId: 'job-3', err: 'planner exploded' });
    expect(lines.some((l) => l.msg === 'profile result not stored yet; retrying')).toBe(false);
  });

  it('names the results it could not store when it stops', () => {
    dir = mkdtempSync(path.join(tmpdir(), 'edgefit-intake-'));
    db = openDb(dir);
    const capture = captureLogger();
    intake = new ResultIntake(new ProfileStore(db), capture.log, 60_000);
    db.pragma('query_only = ON');
    intake.store(result('job-9'));
    intake.stop();
    expect(capture.lines().find((l) => l.msg === 'profile result lost at shutdown: the database never took it')).toMatchObject({ jobId: 'job-9', device: 'pi-a' });
  });
});
