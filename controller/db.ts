import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import path from 'node:path';

export type Db = Database.Database;

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
];

export function openDb(dataDir: string): Db {
  mkdirSync(dataDir, { recursive: true });
  const db = new Database(path.join(dataDir, 'edgefit.db'));
  // WAL keeps readers (CLI, dashboard queries) from blocking the writer, and a
  // crash mid-write never loses a committed transition.
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  migrate(db);
  return db;
}

function migrate(db: Db): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  for (let v = current; v < migrations.length; v++) {
    db.transaction(() => {
      db.exec(migrations[v]);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
}
