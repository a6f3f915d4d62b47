import type { Reported } from '../../protocol/messages.js';
import type { RolloutSummary } from '../rollout/status.js';
import type { RolloutStore } from '../rollout/store.js';
import type { RolloutsBatch } from './wire.js';

/** Transitions a pushed summary carries: the rollout view lists the latest 15. */
export const PUSHED_EVENTS = 15;

export interface RolloutFeedOptions {
  store: Pick<RolloutStore, 'onChange' | 'rolloutsOf'>;
  /** The summary GET /api/rollouts/:id answers, with at most `events` transitions; undefined: no such rollout. */
  summarize: (rolloutId: string, events: number) => RolloutSummary | undefined;
  /** Reported device state: a device's SLO verdict shows in its rollouts without a rollout write. */
  serving?: { onChange(listener: (deviceId: string, state: { reported: Reported | null }) => void): () => void };
  /** Changed rollouts are coalesced and flushed at most this often. */
  flushMs?: number;
  now?: () => number;
}

/**
 * Rollout changes for the dashboard's event stream: the store says which
 * rollout was written, the feed collects ids and, once per interval, sends
 * the summary of each changed rollout, so the dozens of writes of one
 * reconcile pass reach the browser as one batch.
 */
export class RolloutFeed {
  readonly flushMs: number;
  private readonly summarize: RolloutFeedOptions['summarize'];
  private readonly now: () => number;
  private readonly pending = new Set<string>();
  private readonly listeners = new Set<(batch: RolloutsBatch) => void>();
  private readonly unsubscribe: Array<() => void>;
  private timer: NodeJS.Timeout | null = null;

  constructor(opts: RolloutFeedOptions) {
    this.summarize = opts.summarize;
    this.flushMs = opts.flushMs ?? 250;
    this.now = opts.now ?? Date.now;
    const store = opts.store;
    this.unsubscribe = [store.onChange((id) => this.mark(id))];
    if (opts.serving) {
      const last = new Map<string, Reported | null>();
      this.unsubscribe.push(
        opts.serving.onChange((deviceId, { reported }) => {
          // Telemetry arrives every second and changes nothing the summary keeps apart from live FPS,
          // which the page takes from the device stream: only a new reported state counts.
          if (reported === (last.get(deviceId) ?? null)) return;
          last.set(deviceId, reported);
          if (this.listeners.size === 0) return;
          for (const id of store.rolloutsOf(deviceId)) this.mark(id);
        }),
      );
    }
  }

  /** Called with each flushed batch; returns the unsubscribe function. */
  subscribe(listener: (batch: RolloutsBatch) => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) this.cancel();
    };
  }

  /** Sends the pending summaries now (the timer calls this; tests may too). */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.pending.size === 0) return;
    const rollouts: RolloutSummary[] = [];
    for (const id of this.pending) {
      const summary = this.summarize(id, PUSHED_EVENTS);
      if (summary) rollouts.push(summary);
    }
    this.pending.clear();
    if (rollouts.length === 0) return;
    const batch: RolloutsBatch = { serverTime: this.now(), rollouts };
    for (const listener of this.listeners) listener(batch);
  }

  close(): void {
    for (const off of this.unsubscribe) off();
    this.listeners.clear();
    this.cancel();
  }

  private cancel(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.pending.clear();
  }

  private mark(id: string): void {
    // Nobody listening: nothing to send. A page that connects later fetches the rollouts it shows.
    if (this.listeners.size === 0) return;
    this.pending.add(id);
    if (this.timer === null) {
      this.timer = setTimeout(() => this.flush(), this.flushMs);
      this.timer.unref();
    }
  }
}
