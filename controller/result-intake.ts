import type { Logger } from 'pino';
import type { Result } from '../protocol/messages.js';
import type { CheckRecord } from './check/checker.js';
import { ListenerFailure, type ProfileStore } from './profiles.js';

const RETRY_MS = 2000;
/** Results held while the database refuses writes; past this the oldest goes, loudly. */
const MAX_WAITING = 10_000;

/**
 * Stores the profiling results devices send. The broker has acknowledged a
 * result by the time it arrives and the device has dropped its copy, so a
 * database that refuses the write (disk full, locked, I/O error) must not
 * lose it: it waits here and is written again every few seconds.
 */
export class ResultIntake {
  private readonly waiting: Result[] = [];
  /** Verdicts of results that wait for the database, so a retry does not judge again. */
  private readonly checks = new WeakMap<Result, CheckRecord>();
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(
    private readonly profiles: Pick<ProfileStore, 'record' | 'get'>,
    private readonly log: Logger,
    private readonly retryMs = RETRY_MS,
    /** The on-device check's verdict on a result (controller/check/): stored with it, so no listener sees it unjudged. */
    private readonly judge?: (result: Result) => Promise<CheckRecord | undefined>,
    /** Told of each result stored for the first time (not of a redelivered one), for GET /metrics. */
    private readonly onStored?: (result: Result) => void,
  ) {}

  get pending(): number {
    return this.waiting.length;
  }

  store(result: Result): void {
    // A result delivered again (QoS 1, an outbox flushed after a reconnect) is already judged and stored: judging
    // costs two model loads per frame on the controller, and the insert would be ignored anyway.
    if (this.judge && result.ok && result.profile?.check && !this.profiles.get(result.jobId, result.deviceId)) {
      void this.judge(result).then(
        (check) => this.storeJudged(result, check),
        (err: Error) => {
          this.log.error({ device: result.deviceId, jobId: result.jobId, err: err.message }, 'on-device check could not be judged');
          this.storeJudged(result, undefined);
        },
      );
      return;
    }
    this.storeJudged(result, undefined);
  }

  private storeJudged(result: Result, check: CheckRecord | undefined): void {
    if (this.stopped) return void this.log.error({ device: result.deviceId, jobId: result.jobId }, 'profile result lost at shutdown: its on-device check was still being judged');
    if (check) this.checks.set(result, check);
    const error = this.write(result);
    if (error === undefined) return;
    this.hold(result);
    this.log.error({ device: result.deviceId, jobId: result.jobId, err: error, waiting: this.waiting.length }, 'profile result not stored yet; retrying');
  }

  /** Undefined when stored (or already there), else why not. */
  private write(result: Result): string | undefined {
    try {
      const stored = this.profiles.record(result, Date.now(), this.checks.get(result));
      this.log.info({ device: result.deviceId, jobId: result.jobId, ok: result.ok, duplicate: !stored }, 'profile result');
      if (stored) this.onStored?.(result);
      return undefined;
    } catch (err) {
      if (!(err instanceof ListenerFailure)) return (err as Error).message;
      this.onStored?.(result);
      this.log.error({ device: result.deviceId, jobId: result.jobId, err: err.message }, 'profile result stored, but acting on it failed');
      return undefined;
    }
  }

  private hold(result: Result): void {
    if (this.waiting.length >= MAX_WAITING) {
      const lost = this.waiting.shift()!;
      this.log.error({ device: lost.deviceId, jobId: lost.jobId }, `profile result lost: ${MAX_WAITING} results are waiting for the database`);
    }
    this.waiting.push(result);
    this.timer ??= setTimeout(() => this.retry(), this.retryMs);
  }

  private retry(): void {
    this.timer = null;
    let error: string | undefined;
    for (const result of this.waiting.splice(0)) {
      const e = this.write(result);
      if (e === undefined) continue;
      error = e;
      this.hold(result);
    }
    // one line per round, not per result: a full disk would otherwise flood the log
    if (error !== undefined) this.log.warn({ waiting: this.waiting.length, err: error }, 'the database still refuses profile results; retrying');
  }

  /** Stops retrying; what still waits is named in the log, since it is lost with the process. */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    for (const r of this.waiting) this.log.error({ device: r.deviceId, jobId: r.jobId }, 'profile result lost at shutdown: the database never took it');
  }
}
