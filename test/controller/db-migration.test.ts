// A state database written before the provider dimension opens in this
// edgefit with its rollout intact: measurements become cpu measurements (all
// profiles were cpu then), and a device chosen then has no provider recorded.
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { migrate, openDb } from '../../controller/db.js';
import { RolloutStore } from '../../controller/rollout/store.js';

describe('schema migration to measurements per (class, candidate, provider)', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'edgefit-migrate-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps an older database rollout, its measurements (as cpu) and its devices, and then takes a second provider of the same candidate', () => {
    const old = new Database(path.join(dir, 'edgefit.db'));
    migrate(old, 6); // the schema before providers
    old.prepare("INSERT INTO rollouts (id, spec, state, stage, created_at, updated_at) VALUES ('r-1', '{}', 'running', 0, 1, 1)").run();
    old.prepare("INSERT INTO rollout_devices (rollout_id, device_id, device_class, stage, state, candidate_id, state_since) VALUES ('r-1', 'pi-1', 'c1', 0, 'chosen', 'fp32-320', 1)").run();
    old.prepare("INSERT INTO rollout_measurements (rollout_id, device_class, candidate_id, job_id, device_id, outcome, sent_at) VALUES ('r-1', 'c1', 'fp32-320', 'r-1:c1:fp32-320', 'pi-1', '{\"ok\":false,\"error\":\"x\"}', 5)").run();
    old.close();

    const db = openDb(dir);
    try {
      const store = new RolloutStore(db);
      expect(store.measurements('r-1')).toEqual([{ deviceClass: 'c1', candidateId: 'fp32-320', ep: 'cpu', jobId: 'r-1:c1:fp32-320', deviceId: 'pi-1', outcome: { ok: false, error: 'x' }, sentAt: 5 }]);
      expect(store.device('r-1', 'pi-1')).toMatchObject({ state: 'chosen', candidateId: 'fp32-320', ep: null });
      // the same candidate on cuda is a measurement of its own; the same pair twice is not
      store.addMeasurement('r-1', { deviceClass: 'c1', candidateId: 'fp32-320', ep: 'cuda', jobId: 'r-1:c1:fp32-320:cuda', deviceId: 'pi-1', sentAt: 6 });
      expect(store.measurements('r-1').map((m) => m.ep)).toEqual(['cpu', 'cuda']);
      expect(() => store.addMeasurement('r-1', { deviceClass: 'c1', candidateId: 'fp32-320', ep: 'cuda', jobId: 'other', deviceId: 'pi-1', sentAt: 7 })).toThrow(/UNIQUE|PRIMARY/);
    } finally {
      db.close();
    }
  });
});
