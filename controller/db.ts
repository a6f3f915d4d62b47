import type Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { codedError, EdgefitError } from '../protocol/errors.js';

export type Db = Database.Database;

/** Only the controller keeps state in SQLite; an agent-only install (a Pi, a Jetson) has no better-sqlite3 and never loads it. */
/**
 * better-sqlite3, loaded on first use: it is a native addon that compiles where
 * no prebuilt binary fits, so a device installs the agent without it (it is an
 * optional peer dependency) and only the controller's commands need it.
 */
function sqlite(): typeof Database {
  try {
    return createRequire(import.meta.url)('better-sqlite3') as typeof Database;
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why = e.code === 'MODULE_NOT_FOUND' ? 'it is not installed (an agent-only install)' : `it does not load: ${e.message.split('\n')[0]}`;
    throw new EdgefitError('E_SQLITE_MISSING', { reason: `the controller needs better-sqlite3 and ${why}; install it beside edgefit with 'npm install better-sqlite3@12'` });
  }
}

/**
 * Schema migrations, applied in order and recorded in user_version. Append
 * only: a released migration never changes, so any older state file upgrades.
 */
const migrations: string[] = [
  `CREATE TABLE devices (
     id TEXT PRIMARY KEY,
     token_hash TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     first_seen INTEGER,
     last_seen INTEGER,
     online INTEGER NOT NULL DEFAULT 0,
     inventory TEXT,
     device_class TEXT,
     labels TEXT NOT NULL DEFAULT '{}',
     heartbeat TEXT
   );`,
  `CREATE TABLE artifacts (
     sha256 TEXT PRIMARY KEY,
     size INTEGER NOT NULL,
     name TEXT NOT NULL,
     kind TEXT NOT NULL,
     manifest TEXT NOT NULL,
     signature TEXT NOT NULL,
     created_at INTEGER NOT NULL
   );`,
  `CREATE TABLE profiles (
     job_id TEXT PRIMARY KEY,
     device_id TEXT NOT NULL,
     artifact_sha256 TEXT NOT NULL,
     candidate_id TEXT,
     ok INTEGER NOT NULL,
     error TEXT,
     profile TEXT,
     finished_at INTEGER NOT NULL,
     received_at INTEGER NOT NULL
   );
   CREATE INDEX profiles_device ON profiles (device_id, finished_at);
   CREATE TABLE desired_state (
     device_id TEXT PRIMARY KEY,
     desired TEXT NOT NULL,
     updated_at INTEGER NOT NULL
   );`,
  `CREATE TABLE models (
     id TEXT PRIMARY KEY,
     name TEXT NOT NULL,
     sha256 TEXT NOT NULL,
     synthetic INTEGER NOT NULL,
     info TEXT NOT NULL,
     created_at INTEGER NOT NULL
   );
   CREATE TABLE candidates (
     id TEXT PRIMARY KEY,
     model_id TEXT NOT NULL REFERENCES models(id) ON DELETE CASCADE,
     name TEXT NOT NULL,
     method TEXT NOT NULL,
     recipe TEXT NOT NULL,
     family TEXT NOT NULL,
     imgsz INTEGER NOT NULL,
     sha256 TEXT NOT NULL,
     size_bytes INTEGER NOT NULL,
     parameters INTEGER NOT NULL,
     flops REAL NOT NULL,
     accuracy TEXT NOT NULL,
     source TEXT,
     created_at INTEGER NOT NULL,
     UNIQUE (model_id, name)
   );
   CREATE TABLE ladder_jobs (
     id TEXT PRIMARY KEY,
     model_id TEXT NOT NULL REFERENCES models(id) ON DELETE CASCADE,
     state TEXT NOT NULL,
     options TEXT NOT NULL,
     done INTEGER NOT NULL DEFAULT 0,
     total INTEGER NOT NULL DEFAULT 0,
     message TEXT,
     error TEXT,
     created_at INTEGER NOT NULL,
     updated_at INTEGER NOT NULL
   );
   CREATE TABLE rollouts (
     id TEXT PRIMARY KEY,
     spec TEXT NOT NULL,
     state TEXT NOT NULL,
     stage INTEGER NOT NULL DEFAULT 0,
     reason TEXT,
     created_at INTEGER NOT NULL,
     updated_at INTEGER NOT NULL
   );
   CREATE TABLE rollout_devices (
     rollout_id TEXT NOT NULL REFERENCES rollouts(id) ON DELETE CASCADE,
     device_id TEXT NOT NULL,
     device_class TEXT,
     stage INTEGER NOT NULL,
     state TEXT NOT NULL,
     resume_state TEXT,
     candidate_id TEXT,
     choice TEXT,
     generation INTEGER,
     previous_desired TEXT,
     attempts INTEGER NOT NULL DEFAULT 0,
     error TEXT,
     state_since INTEGER NOT NULL,
     PRIMARY KEY (rollout_id, device_id)
   );
   CREATE TABLE rollout_events (
     seq INTEGER PRIMARY KEY AUTOINCREMENT,
     rollout_id TEXT NOT NULL REFERENCES rollouts(id) ON DELETE CASCADE,
     device_id TEXT,
     from_state TEXT,
     to_state TEXT NOT NULL,
     detail TEXT,
     at INTEGER NOT NULL
   );
   CREATE TABLE rollout_measurements (
     rollout_id TEXT NOT NULL REFERENCES rollouts(id) ON DELETE CASCADE,
     device_class TEXT NOT NULL,
     candidate_id TEXT NOT NULL,
     job_id TEXT NOT NULL UNIQUE,
     device_id TEXT NOT NULL,
     outcome TEXT,
     sent_at INTEGER NOT NULL,
     PRIMARY KEY (rollout_id, device_class, candidate_id)
   );`,
  // A result is one device's answer to a job: keyed by job alone, a device that
  // published a result under another device's job id took that job's slot, and
  // the real result was dropped as a duplicate.
  `CREATE TABLE profiles_by_device (
     job_id TEXT NOT NULL,
     device_id TEXT NOT NULL,
     artifact_sha256 TEXT NOT NULL,
     candidate_id TEXT,
     ok INTEGER NOT NULL,
     error TEXT,
     profile TEXT,
     finished_at INTEGER NOT NULL,
     received_at INTEGER NOT NULL,
     PRIMARY KEY (job_id, device_id)
   );
   INSERT INTO profiles_by_device SELECT job_id, device_id, artifact_sha256, candidate_id, ok, error, profile, finished_at, received_at FROM profiles;
   DROP TABLE profiles;
   ALTER TABLE profiles_by_device RENAME TO profiles;
   CREATE INDEX profiles_device ON profiles (device_id, finished_at);`,
  // when the rollout last gave the device its model: rate.perMinute counts these, and a rollback or a retry must not erase one
  `ALTER TABLE rollout_devices ADD COLUMN sent_at INTEGER;`,
  // the on-device check's verdict and cost (controller/check/), JSON; null for profiles without a check
  `ALTER TABLE profiles ADD COLUMN check_verdict TEXT;`,
  // A choice is a (candidate, execution provider) pair: a class measures a candidate once per provider, and a
  // device keeps the provider it was given. Rows of older controllers were all profiled on cpu.
  `CREATE TABLE rollout_measurements_by_ep (
     rollout_id TEXT NOT NULL REFERENCES rollouts(id) ON DELETE CASCADE,
     device_class TEXT NOT NULL,
     candidate_id TEXT NOT NULL,
     ep TEXT NOT NULL DEFAULT 'cpu',
     job_id TEXT NOT NULL UNIQUE,
     device_id TEXT NOT NULL,
     outcome TEXT,
     sent_at INTEGER NOT NULL,
     PRIMARY KEY (rollout_id, device_class, candidate_id, ep)
   );
   INSERT INTO rollout_measurements_by_ep (rollout_id, device_class, candidate_id, ep, job_id, device_id, outcome, sent_at)
     SELECT rollout_id, device_class, candidate_id, 'cpu', job_id, device_id, outcome, sent_at FROM rollout_measurements;
   DROP TABLE rollout_measurements;
   ALTER TABLE rollout_measurements_by_ep RENAME TO rollout_measurements;
   ALTER TABLE rollout_devices ADD COLUMN ep TEXT;`,
  // `devices remove` keeps the row (its history) marked removed; lists and authentication skip it (registry.ts)
  `ALTER TABLE devices ADD COLUMN removed_at INTEGER;`,
  // Operator-level profiles (issue #21), the latest per candidate file, device class, provider and
  // thread count (0: onnxruntime's choice): the latency predictor of a class and provider fits on them;
  // and that predictor's error on each profiled candidate, predicted from all the others.
  `CREATE TABLE op_profiles (
     artifact_sha256 TEXT NOT NULL,
     device_class TEXT NOT NULL,
     ep TEXT NOT NULL,
     threads INTEGER NOT NULL,
     candidate_id TEXT,
     device_id TEXT NOT NULL,
     job_id TEXT NOT NULL,
     model_ms REAL NOT NULL,
     op_profile TEXT NOT NULL,
     measured_at INTEGER NOT NULL,
     PRIMARY KEY (artifact_sha256, device_class, ep, threads)
   );
   CREATE TABLE latency_predictions (
     artifact_sha256 TEXT NOT NULL,
     device_class TEXT NOT NULL,
     ep TEXT NOT NULL,
     threads INTEGER NOT NULL,
     measured_ms REAL NOT NULL,
     predicted_ms REAL,
     error_pct REAL,
     fitted_on INTEGER NOT NULL,
     computed_at INTEGER NOT NULL,
     PRIMARY KEY (artifact_sha256, device_class, ep, threads)
   );`,
  // issue 21: what the class's latency predictor said of a candidate before its profile was sent, and the
  // predictor's leave-one-out error then; the measurement it is scored against is the outcome's modelMs
  `ALTER TABLE rollout_measurements ADD COLUMN predicted_ms REAL;
   ALTER TABLE rollout_measurements ADD COLUMN prediction_mape_pct REAL;`,
];

export function openDb(dataDir: string): Db {
  mkdirSync(dataDir, { recursive: true });
  const db = new (sqlite())(path.join(dataDir, 'edgefit.db'));
  // WAL keeps readers (CLI, dashboard queries) from blocking the writer, and a
  // crash mid-write never loses a committed transition.
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  migrate(db);
  return db;
}

/** The store was written by a newer edgefit than this one: opening it could corrupt it. */
export class DbVersionError extends codedError('E_DB_VERSION') {
  override name = 'DbVersionError';
}

/** Brings the schema up to `upTo` (default: this edgefit's); a lower `upTo` builds an older edgefit's database, for migration tests. */
export function migrate(db: Db, upTo = migrations.length): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > migrations.length) {
    db.close();
    throw new DbVersionError(`the state database is at schema version ${current}, this edgefit knows only up to ${migrations.length}: run a newer edgefit on this data directory`);
  }
  for (let v = current; v < upTo; v++) {
    db.transaction(() => {
      db.exec(migrations[v]);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
}
