import type { Logger } from 'pino';
import { codedError, EdgefitError } from '../protocol/errors.js';
import { CHANNELS, type Channel } from '../protocol/channels.js';
import { deviceTopic } from '../protocol/topics.js';
import { newToken } from './credentials.js';
import { DynsecCommandError, DynsecUnavailableError } from './dynsec/control.js';
import type { DynsecSync } from './dynsec/sync.js';
import type { Device, Registry } from './registry.js';

// A device's life on every broker path: added, given a new token, removed.
// The registry is the truth; what else holds a device's credentials or state
// follows it here: the embedded broker (its auth reads the registry; sessions
// open with an old token are ended), Mosquitto's dynamic-security plugin (told
// at once), or Mosquitto's password file (re-written by broker-config only),
// the retained topics, and what the controller keeps in memory.

/**
 * How the broker learns of credentials: the embedded broker reads the
 * registry; Mosquitto with the dynamic-security plugin is told at once
 * (--broker-dynsec); Mosquitto with a password file learns at its next
 * SIGHUP after `broker-config`.
 */
export type BrokerMode = 'embedded' | 'dynsec' | 'files';

/** What the operator must still do on the file-based path. */
const FILES_NOTE = "Mosquitto reads its password file only at start and on SIGHUP: re-run 'edgefit broker-config' and send it SIGHUP";

/** The broker did not confirm a credential change: answered 503 with the reason; what the registry holds says what happened. */
export class BrokerSyncError extends codedError('E_BROKER_UNAVAILABLE') {
  override name = 'BrokerSyncError';
}

/** Channels whose last message the broker keeps for a device (protocol/channels.ts): a removed device's are cleared. */
export const RETAINED_CHANNELS = (Object.keys(CHANNELS) as Channel[]).filter((c) => CHANNELS[c].retain);

export interface DeviceLifecycleOptions {
  registry: Registry;
  mode: BrokerMode;
  dynsec?: DynsecSync;
  /** Ends the embedded broker's sessions of a device, without its last will; how many there were. */
  disconnect?: (deviceId: string) => number;
  /** Publishes an empty retained message on a topic (clears it); rejects when the broker is away. */
  clearRetained: (topic: string) => Promise<void>;
  /** Drops what the controller keeps in memory and on disk for a device's serving (outputs, desired state). */
  forget: (deviceId: string) => void;
  log: Logger;
}

export interface AddResult {
  device: Device;
  token: string;
  broker: BrokerMode;
  note?: string;
}

export interface RotateResult {
  id: string;
  token: string;
  broker: BrokerMode;
  /** Sessions the broker ended: they held the old token. */
  disconnected: boolean;
  note?: string;
}

export interface RemoveResult {
  id: string;
  removedAt: number;
  /** It was removed before: this call only repeated the broker and retained steps. */
  again: boolean;
  broker: BrokerMode;
  /** Whether the broker confirmed its credentials gone. */
  revoked: boolean;
  retainedCleared: string[];
  note?: string;
}

export class DeviceLifecycle {
  /** One change at a time per device: two adds of one id must not hand the broker two tokens. */
  private readonly queues = new Map<string, Promise<unknown>>();

  constructor(private readonly opts: DeviceLifecycleOptions) {}

  get mode(): BrokerMode {
    return this.opts.mode;
  }

  /** Registers a device; on the dynsec path the broker takes its client first, so a refusal registers nothing. */
  add(id: string, labels: Record<string, string> = {}): Promise<AddResult> {
    return this.serially(id, async () => {
      const { registry, dynsec } = this.opts;
      registry.checkAddable(id, labels);
      const token = newToken();
      if (dynsec) await this.broker(`device '${id}' was not added`, () => dynsec.provision(id, token));
      registry.add(id, labels, token);
      this.opts.log.info({ device: id, broker: this.mode }, 'device added');
      return { device: registry.get(id)!, token, broker: this.mode, ...this.filesNote() };
    });
  }

  /** A new token; the old one is refused from now on (the broker ends sessions that used it, except on the file-based path). */
  rotateToken(id: string): Promise<RotateResult> {
    return this.serially(id, async () => {
      const { registry, dynsec } = this.opts;
      if (!registry.has(id)) throw new EdgefitError('E_DEVICE_UNKNOWN', { id });
      const token = newToken();
      if (dynsec) await this.broker(`the token of '${id}' was not changed`, () => dynsec.rotate(id, token));
      registry.rotateToken(id, token);
      const disconnected = this.endSessions(id);
      if (disconnected) registry.recordPresence(id, false);
      this.opts.log.info({ device: id, broker: this.mode }, 'device token rotated');
      return { id, token, broker: this.mode, disconnected, ...this.filesNote() };
    });
  }

  /**
   * Takes a device off the fleet: the registry marks it removed (its token
   * refused on MQTT and HTTP, its messages dropped), the broker drops its
   * credentials and sessions, its retained topics are cleared. A broker step
   * that fails is said in `note`; the reconcile on the next connect, or
   * running remove again, finishes it.
   */
  remove(id: string): Promise<RemoveResult> {
    return this.serially(id, async () => {
      const { registry, dynsec, log } = this.opts;
      const { removedAt, again } = registry.remove(id);
      this.opts.forget(id);
      const notes: string[] = [];
      let revoked = this.mode !== 'files';
      this.endSessions(id);
      if (dynsec) {
        try {
          await dynsec.revoke(id);
        } catch (err) {
          revoked = false;
          notes.push(`the broker did not confirm deleting its client (${(err as Error).message}); the controller deletes it when it next connects to the broker, or run 'devices remove ${id}' again`);
        }
      }
      if (this.mode === 'files') notes.push(FILES_NOTE);
      const retainedCleared: string[] = [];
      for (const channel of RETAINED_CHANNELS) {
        const topic = deviceTopic(id, channel);
        try {
          await this.opts.clearRetained(topic);
          retainedCleared.push(topic);
        } catch (err) {
          notes.push(`${topic} not cleared: ${(err as Error).message}`);
        }
      }
      log.info({ device: id, broker: this.mode, revoked, again, retainedCleared: retainedCleared.length }, 'device removed');
      return { id, removedAt, again, broker: this.mode, revoked, retainedCleared, ...(notes.length ? { note: notes.join('; ') } : {}) };
    });
  }

  private endSessions(id: string): boolean {
    // The dynamic-security plugin kicks the client itself when its password changes or it is deleted.
    if (this.mode === 'dynsec') return true;
    return (this.opts.disconnect?.(id) ?? 0) > 0;
  }

  private filesNote(): { note?: string } {
    return this.mode === 'files' ? { note: FILES_NOTE } : {};
  }

  private async broker(what: string, step: () => Promise<void>): Promise<void> {
    try {
      await step();
    } catch (err) {
      if (err instanceof DynsecUnavailableError || err instanceof DynsecCommandError) throw new BrokerSyncError(`${what}: ${err.message}`);
      throw err;
    }
  }

  private serially<T>(id: string, step: () => Promise<T>): Promise<T> {
    const before = this.queues.get(id) ?? Promise.resolve();
    const run = before.then(step, step);
    const settled = run.then(
      () => undefined,
      () => undefined,
    );
    this.queues.set(id, settled);
    void settled.then(() => this.queues.get(id) === settled && this.queues.delete(id));
    return run;
  }
}
