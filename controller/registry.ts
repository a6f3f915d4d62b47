import type Database from 'better-sqlite3';
import type { Db } from './db.js';
import type { Heartbeat, Hello, Inventory } from '../protocol/messages.js';
import { DEVICE_ID_PATTERN } from '../protocol/topics.js';
import { hashToken, newToken, verifyToken } from './credentials.js';
import { isSilent } from './liveness.js';
import { EdgefitError } from '../protocol/errors.js';

/** The MQTT username of the controller itself; no device may take it. */
export const CONTROLLER_USER = 'edgefit-controller';

export interface Device {
  id: string;
  createdAt: number;
  firstSeen: number | null;
  lastSeen: number | null;
  online: boolean;
  inventory: Inventory | null;
  deviceClass: string | null;
  labels: Record<string, string>;
  heartbeat: Heartbeat | null;
  /** When `devices remove` took it off the fleet; only on rows asked for with `includeRemoved`. */
  removedAt?: number;
}

/** Lists and lookups skip removed devices unless asked (`devices --removed`, `GET /api/devices?removed=include`). */
export interface RemovedOption {
  includeRemoved?: boolean;
}

interface DeviceRow {
  id: string;
  token_hash: string;
  created_at: number;
  first_seen: number | null;
  last_seen: number | null;
  online: number;
  inventory: string | null;
  device_class: string | null;
  labels: string;
  heartbeat: string | null;
  removed_at: number | null;
}

export const LABEL_KEY_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.\/-]{0,62}$/;
/** A label value's longest. */
export const MAX_LABEL_VALUE = 256;
/**
 * Labels per device: every device list carries them all. A first probe added
 * a device with 9,000 labels of 100 characters (201), a megabyte more in
 * every later list; 64 is more than any fleet's selectors use.
 */
export const MAX_LABELS = 64;

function toDevice(row: DeviceRow): Device {
  return {
    id: row.id,
    createdAt: row.created_at,
    firstSeen: row.first_seen,
    lastSeen: row.last_seen,
    online: row.online === 1,
    inventory: row.inventory ? (JSON.parse(row.inventory) as Inventory) : null,
    deviceClass: row.device_class,
    labels: JSON.parse(row.labels) as Record<string, string>,
    heartbeat: row.heartbeat ? (JSON.parse(row.heartbeat) as Heartbeat) : null,
    ...(row.removed_at === null ? {} : { removedAt: row.removed_at }),
  };
}

/** The SQL condition of a lookup or list: active devices only, unless removed ones are asked for too. */
function activeOnly(o: RemovedOption): string {
  return o.includeRemoved ? '1 = 1' : 'removed_at IS NULL';
}

/** The device registry: who may connect, what they are, whether they are there. */
export class Registry {
  private readonly listeners = new Set<(device: Device) => void>();
  /** Prepared once each: the registry runs a few statements per device message, thousands a second at fleet scale. */
  private readonly statements = new Map<string, Database.Statement>();

  constructor(private readonly db: Db) {}

  private sql(text: string): Database.Statement {
    let statement = this.statements.get(text);
    if (!statement) {
      statement = this.db.prepare(text);
      this.statements.set(text, statement);
    }
    return statement;
  }

  /**
   * Throws what add() would throw for this id and these labels, without
   * registering anything: the dynamic-security path provisions the broker
   * first and registers only what the broker took.
   */
  checkAddable(id: string, labels: Record<string, string> = {}): void {
    if (!DEVICE_ID_PATTERN.test(id) || id === CONTROLLER_USER) {
      throw new EdgefitError('E_DEVICE_INVALID', { reason: `invalid device id '${id}': use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit` });
    }
    if (Object.keys(labels).length > MAX_LABELS) throw new EdgefitError('E_DEVICE_INVALID', { reason: `a device has at most ${MAX_LABELS} labels, got ${Object.keys(labels).length}` });
    for (const [k, v] of Object.entries(labels)) validateLabel(k, v);
    if (this.has(id)) throw new EdgefitError('E_DEVICE_EXISTS', { id });
  }

  /**
   * Registers a device and returns its one-time plaintext token (`token`: one
   * made already, e.g. handed to the broker first). A removed device's id may
   * be added again: the row becomes the new device's (its profiles and
   * rollout history stay, keyed by id).
   */
  add(id: string, labels: Record<string, string> = {}, token = newToken()): string {
    this.checkAddable(id, labels);
    const result = this
      .sql(
        `INSERT INTO devices (id, token_hash, created_at, labels) VALUES (?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET token_hash = excluded.token_hash, created_at = excluded.created_at, labels = excluded.labels,
           removed_at = NULL, first_seen = NULL, last_seen = NULL, online = 0, inventory = NULL, device_class = NULL, heartbeat = NULL
         WHERE devices.removed_at IS NOT NULL`,
      )
      .run(id, hashToken(token), Date.now(), JSON.stringify(labels));
    if (result.changes === 0) throw new EdgefitError('E_DEVICE_EXISTS', { id });
    return token;
  }

  /** Issues a fresh token (or stores `token`) for an active device; the old one stops working. */
  rotateToken(id: string, token = newToken()): string {
    const result = this.sql('UPDATE devices SET token_hash = ? WHERE id = ? AND removed_at IS NULL').run(hashToken(token), id);
    if (result.changes === 0) throw new EdgefitError('E_DEVICE_UNKNOWN', { id });
    return token;
  }

  /** A removed device's token is refused like a wrong one. */
  authenticate(id: string, token: string): boolean {
    const row = this.sql('SELECT token_hash FROM devices WHERE id = ? AND removed_at IS NULL').get(id) as { token_hash: string } | undefined;
    return row !== undefined && verifyToken(token, row.token_hash);
  }

  /** id → stored hash, for writing a Mosquitto password file. */
  tokenHashes(): Array<{ id: string; tokenHash: string }> {
    return (this.sql('SELECT id, token_hash FROM devices WHERE removed_at IS NULL ORDER BY id').all() as DeviceRow[]).map((r) => ({ id: r.id, tokenHash: r.token_hash }));
  }

  /** Whether the device is registered and not removed, without reading its row: asked for every message a device sends. */
  has(id: string): boolean {
    return this.sql('SELECT 1 FROM devices WHERE id = ? AND removed_at IS NULL').get(id) !== undefined;
  }

  get(id: string, o: RemovedOption = {}): Device | undefined {
    const row = this.sql(`SELECT * FROM devices WHERE id = ? AND ${activeOnly(o)}`).get(id) as DeviceRow | undefined;
    return row && toDevice(row);
  }

  list(o: RemovedOption = {}): Device[] {
    return (this.sql(`SELECT * FROM devices WHERE ${activeOnly(o)} ORDER BY id`).all() as DeviceRow[]).map(toDevice);
  }

  /** Up to `limit` devices in id order after the id `after` (a page of the list; see http/device-page.ts). */
  listAfter(after: string | undefined, limit: number, o: RemovedOption = {}): Device[] {
    return (this.sql(`SELECT * FROM devices WHERE id > ? AND ${activeOnly(o)} ORDER BY id LIMIT ?`).all(after ?? '', limit) as DeviceRow[]).map(toDevice);
  }

  count(filter: { online?: boolean } & RemovedOption = {}): number {
    const online = filter.online === undefined ? '' : ` AND online = ${filter.online ? 1 : 0}`;
    return (this.sql(`SELECT COUNT(*) AS n FROM devices WHERE ${activeOnly(filter)}${online}`).get() as { n: number }).n;
  }

  /** Ids of removed devices: the broker must hold no credentials for them (controller/dynsec/reconcile.ts). */
  removedIds(): string[] {
    return (this.sql('SELECT id FROM devices WHERE removed_at IS NOT NULL ORDER BY id').all() as Array<{ id: string }>).map((r) => r.id);
  }

  /** Rows the controller's database connection has written since it opened (SQLite's total_changes()): the fleet-scale benchmark's writes per second. */
  rowsWritten(): number {
    return (this.sql('SELECT total_changes() AS n').get() as { n: number }).n;
  }

  setLabel(id: string, key: string, value: string | null): Device {
    const device = this.require(id);
    const labels = { ...device.labels };
    if (value === null) delete labels[key];
    else {
      validateLabel(key, value);
      labels[key] = value;
      if (Object.keys(labels).length > MAX_LABELS) throw new EdgefitError('E_DEVICE_INVALID', { reason: `a device has at most ${MAX_LABELS} labels: remove one before adding '${key}'` });
    }
    this.sql('UPDATE devices SET labels = ? WHERE id = ?').run(JSON.stringify(labels), id);
    return this.changed(id);
  }

  recordHello(id: string, hello: Hello, now = Date.now()): Device {
    const result = this
      .sql('UPDATE devices SET inventory = ?, device_class = ?, first_seen = COALESCE(first_seen, ?), last_seen = ?, online = 1 WHERE id = ?')
      .run(JSON.stringify(hello.inventory), hello.deviceClass, now, now, id);
    if (result.changes === 0) throw new EdgefitError('E_DEVICE_UNKNOWN', { id });
    return this.changed(id);
  }

  /**
   * A presence message. One the broker kept (`retained`) is old news: an
   * 'online' restores a device heard from lately without counting as hearing
   * from it now, and does not bring back one silent too long (a broker that
   * crashed, and kept it, never sent the device's last will).
   */
  recordPresence(id: string, online: boolean, now = Date.now(), retained = false): Device {
    const device = this.require(id);
    if (online && retained) {
      if (device.online || isSilent(device, now)) return device;
      this.sql('UPDATE devices SET online = 1 WHERE id = ?').run(id);
      return this.changed(id);
    }
    this
      .sql('UPDATE devices SET online = ?, last_seen = CASE WHEN ? THEN ? ELSE last_seen END, first_seen = CASE WHEN ? THEN COALESCE(first_seen, ?) ELSE first_seen END WHERE id = ?')
      .run(online ? 1 : 0, online ? 1 : 0, now, online ? 1 : 0, now, id);
    return this.changed(id);
  }

  /** The fleet's most frequent write (one per device per heartbeat period): one UPDATE, no read before it. */
  recordHeartbeat(id: string, heartbeat: Heartbeat, now = Date.now()): Device {
    const result = this.sql('UPDATE devices SET heartbeat = ?, last_seen = ?, online = 1 WHERE id = ?').run(JSON.stringify(heartbeat), now, id);
    if (result.changes === 0) throw new EdgefitError('E_DEVICE_UNKNOWN', { id });
    return this.changed(id);
  }

  /** Marks offline every online device silent for too long (see liveness.ts): nothing else would after a broker crash. */
  markSilentOffline(now = Date.now()): Device[] {
    // Only what liveness reads, not every online device's inventory and heartbeat parsed (the sweep runs every 5 s).
    const rows = this.sql("SELECT id, last_seen, json_extract(heartbeat, '$.intervalS') AS interval_s FROM devices WHERE online = 1").all() as Array<{ id: string; last_seen: number | null; interval_s: number | null }>;
    const silent = rows.filter((r) => isSilent({ lastSeen: r.last_seen, heartbeat: r.interval_s === null ? null : { intervalS: r.interval_s } }, now));
    for (const d of silent) this.sql('UPDATE devices SET online = 0 WHERE id = ?').run(d.id);
    return silent.map((d) => this.changed(d.id));
  }

  /**
   * At controller start nobody is known to be connected: presence messages
   * (retained on an external broker, re-sent on reconnect) restore the truth.
   */
  markAllOffline(): void {
    this.sql('UPDATE devices SET online = 0').run();
  }

  /**
   * Takes a device off the fleet and keeps its row marked removed: its token
   * is refused from now on, its messages are dropped as unregistered, and
   * lists skip it unless asked. Removing a removed device again answers its
   * first `removedAt` (so a removal whose broker step failed can be re-run).
   */
  remove(id: string, now = Date.now()): { removedAt: number; again: boolean } {
    const result = this.sql('UPDATE devices SET removed_at = ?, online = 0 WHERE id = ? AND removed_at IS NULL').run(now, id);
    if (result.changes === 1) return { removedAt: now, again: false };
    const row = this.sql('SELECT removed_at FROM devices WHERE id = ?').get(id) as { removed_at: number | null } | undefined;
    if (row?.removed_at == null) throw new EdgefitError('E_DEVICE_UNKNOWN', { id });
    return { removedAt: row.removed_at, again: true };
  }

  onChange(listener: (device: Device) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private require(id: string): Device {
    const device = this.get(id);
    if (!device) throw new EdgefitError('E_DEVICE_UNKNOWN', { id });
    return device;
  }

  private changed(id: string): Device {
    const device = this.require(id);
    for (const listener of this.listeners) listener(device);
    return device;
  }
}

function validateLabel(key: string, value: string): void {
  if (!LABEL_KEY_PATTERN.test(key)) throw new EdgefitError('E_DEVICE_INVALID', { reason: `invalid label key '${key}'` });
  if (value.length > MAX_LABEL_VALUE) throw new EdgefitError('E_DEVICE_INVALID', { reason: `label '${key}' value is longer than ${MAX_LABEL_VALUE} characters` });
}
