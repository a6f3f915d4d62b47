import type { Logger } from 'pino';
import type { RgbImage } from '../../compress/detect/image.js';
import { backoffDelay, DEFAULT_BACKOFF, type Backoff } from '../source/backoff.js';
import { SourceEndedError, type SourceEvent, type SourceStats, type StatsSource } from '../source/types.js';
import type { FrameSource } from './frames.js';

/** The model input a source letterboxes its frames to. */
export interface InputSize {
  width: number;
  height: number;
}

/** Opens the agent's source at a model's input size; `onEvent` gets its connects and losses. */
export type SourceFactory = (size: InputSize, onEvent: (e: SourceEvent) => void) => Promise<StatsSource>;

/** What telemetry says about the source: its own stats, counted across the reopenings of this slot. */
export interface SlotStats extends SourceStats {
  /** Why the source is not open (it failed to open and is retrying), else null. */
  openError: string | null;
}

/**
 * Serving's one source: open at the active model's input size, reopened at
 * another when a model of another size activates (closed first: a V4L2 camera
 * takes one reader), closed while a profile holds a device camera, and closed
 * on stop. A source that fails to open, or fails for good while serving (a
 * video file that turns unreadable), is opened again after a backoff; next()
 * waits through all of it and only throws once the slot is closed, so the
 * model stays active while the source is away.
 */
export class SourceSlot implements FrameSource {
  private source: StatsSource | null = null;
  private size: InputSize | null = null;
  private openError: string | null = null;
  private attempt = 0;
  private retryTimer?: NodeJS.Timeout;
  /** Bumped by every (re)open and close: an open that finishes after it is discarded. */
  private epoch = 0;
  private waiters: Array<() => void> = [];
  private closed = false;
  private suspended = false;
  /** Counts of the sources this slot already closed, so totals do not restart with a new size. */
  private base = { framesDecoded: 0, framesDelivered: 0, framesDropped: 0, reconnects: 0 };

  constructor(
    private readonly factory: SourceFactory,
    readonly name: string,
    private readonly log: Logger,
    private readonly backoff: Backoff = DEFAULT_BACKOFF,
  ) {}

  /** Opens the source at `size` unless it is open (or opening) at it already. Never rejects: a failed open retries by itself. */
  async use(size: InputSize): Promise<void> {
    if (this.closed) return;
    if (this.size && this.size.width === size.width && this.size.height === size.height && !this.suspended) return;
    await this.shut();
    this.size = size;
    this.suspended = false;
    this.attempt = 0;
    await this.open(this.epoch);
  }

  /** Closes a device camera while a profile measures on it (the profiling child opens it itself); other sources keep running. */
  async suspend(): Promise<void> {
    // One still opening, or waiting to retry, may be a camera too: it waits for the profile as well.
    if (!this.size || (this.source && this.source.spec.kind !== 'device')) return;
    const size = this.size;
    await this.shut();
    // kept: resume() reopens at it
    this.size = size;
    this.suspended = true;
  }

  async resume(): Promise<void> {
    if (!this.suspended || !this.size || this.closed) return;
    this.suspended = false;
    await this.open(this.epoch);
  }

  private async open(epoch: number): Promise<void> {
    const size = this.size!;
    let source: StatsSource;
    try {
      source = await this.factory(size, (e) => this.onEvent(e));
    } catch (err) {
      if (epoch !== this.epoch) return;
      this.openError = (err as Error).message;
      const retryInMs = Math.round(backoffDelay(this.attempt++, this.backoff));
      this.log.warn({ source: this.name, err: this.openError, retryInMs }, 'source failed to open; retrying');
      this.retryTimer = setTimeout(() => void this.open(epoch), retryInMs);
      return;
    }
    if (epoch !== this.epoch) return void (await source.close());
    this.source = source;
    this.openError = null;
    this.log.info({ source: this.name, width: size.width, height: size.height }, 'source open');
    this.wake();
  }

  private onEvent(e: SourceEvent): void {
    if (e.type === 'lost') this.log.warn({ source: this.name, err: e.error, retryInMs: e.retryInMs }, 'source lost; reconnecting');
    else this.log.info({ source: this.name, width: e.width, height: e.height }, e.reconnect ? 'source reconnected' : 'source connected');
  }

  /** Closes the source until the next use() (nothing is serving). */
  async release(): Promise<void> {
    await this.shut();
    this.suspended = false;
    this.wake();
  }

  /** Closes the open source (if any) and stops a pending reopen; its counts join the totals. */
  private async shut(): Promise<void> {
    this.epoch++;
    clearTimeout(this.retryTimer);
    const s = this.source;
    this.source = null;
    this.size = null;
    if (!s) return;
    const st = s.stats();
    this.base.framesDecoded += st.framesDecoded;
    this.base.framesDelivered += st.framesDelivered;
    this.base.framesDropped += st.framesDropped;
    this.base.reconnects += st.reconnects;
    await s.close();
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** The next frame; waits while the source is opening, away or suspended. Throws only once the slot is closed. */
  async next(): Promise<RgbImage> {
    for (;;) {
      if (this.closed) throw new SourceEndedError(`${this.name}: closed`);
      const s = this.source;
      if (!s) {
        await new Promise<void>((resolve) => this.waiters.push(resolve));
        continue;
      }
      try {
        return await s.next();
      } catch (err) {
        if (this.closed || s !== this.source) continue; // closed or swapped while waiting: look again
        // a source that fails for good (not a lost stream: that one reconnects inside) is opened again
        const size = this.size!;
        this.openError = (err as Error).message;
        this.log.warn({ source: this.name, err: this.openError }, 'source failed; reopening');
        await this.shut();
        this.size = size;
        const epoch = this.epoch;
        const retryInMs = Math.round(backoffDelay(this.attempt++, this.backoff));
        this.retryTimer = setTimeout(() => void this.open(epoch), retryInMs);
      }
    }
  }

  /** Null before the first open; counts are totals over every source this slot opened. */
  stats(): SlotStats | null {
    const s = this.source?.stats();
    if (!s) {
      if (this.openError === null && this.base.framesDecoded === 0) return null;
      return { ...this.base, decodeMsPerFrame: null, lastError: this.openError, lastGap: null, connected: false, openError: this.openError };
    }
    return {
      ...s,
      framesDecoded: this.base.framesDecoded + s.framesDecoded,
      framesDelivered: this.base.framesDelivered + s.framesDelivered,
      framesDropped: this.base.framesDropped + s.framesDropped,
      reconnects: this.base.reconnects + s.reconnects,
      openError: this.openError,
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.shut();
    this.wake();
  }
}
