import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { Result } from '../../protocol/messages.js';

/** Results kept after delivery, so a job the controller sends again is answered, not re-run. */
const KEEP_DELIVERED = 500;
/** Undelivered results held in memory while the disk refuses them; past this the oldest goes, loudly. */
const HOLD_UNDELIVERED = 1000;

/**
 * Profiling results on disk under the agent's state dir: `results/` keeps
 * every finished job's result, `outbox/` those not yet acknowledged by the
 * broker (PUBACK). A result leaves the outbox only after its PUBACK, so one
 * finished while the broker is down survives restarts and goes out on reconnect.
 * A disk that refuses writes (full, remounted read-only) costs the restart
 * guarantee only: such results wait in memory and are delivered all the same.
 */
export class Outbox {
  private readonly resultsDir: string;
  private readonly pendingDir: string;
  private readonly inFlight = new Set<string>();
  /** Results the disk refused to store (oldest first), and which of them still await delivery. */
  private readonly unstored = new Map<string, Result>();
  private readonly undelivered = new Set<string>();
  /** Outbox files already dealt with (delivered, or unreadable) that the disk would not let go of. */
  private readonly stuck = new Set<string>();

  constructor(
    stateDir: string,
    private readonly send: (result: Result) => Promise<void>,
    private readonly log: Logger,
  ) {
    this.resultsDir = path.join(stateDir, 'results');
    this.pendingDir = path.join(stateDir, 'outbox');
  }

  /** Stores a result durably (write + rename), then tries to deliver everything pending. */
  put(result: Result): void {
    try {
      this.write(this.resultsDir, result);
      this.write(this.pendingDir, result);
    } catch (err) {
      this.keepInMemory(result, err as Error);
    }
    try {
      this.prune();
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'cannot prune delivered results');
    }
    this.flush();
  }

  /** A stored result for this job, if it ran before. */
  get(jobId: string): Result | undefined {
    return this.unstored.get(jobId) ?? this.read(path.join(this.resultsDir, `${jobId}.json`));
  }

  /** Queues a stored result for delivery again (the controller asked for a job that already ran). */
  resend(result: Result): void {
    try {
      this.write(this.pendingDir, result);
      this.stuck.delete(result.jobId);
    } catch (err) {
      this.keepInMemory(result, err as Error);
    }
    this.flush();
  }

  /** Job ids of results awaiting delivery, on disk or held in memory. */
  pending(): string[] {
    return [...new Set([...this.pendingOnDisk(), ...this.undelivered])];
  }

  /** Sends every pending result not already awaiting its PUBACK. Failures stay pending for the next flush. */
  flush(): void {
    for (const jobId of this.pendingOnDisk()) {
      if (this.inFlight.has(jobId) || this.stuck.has(jobId) || this.undelivered.has(jobId)) continue;
      const file = path.join(this.pendingDir, `${jobId}.json`);
      const result = this.read(file);
      if (result) this.deliver(result, () => this.removeDelivered(jobId, file));
      else this.setAside(jobId, file);
    }
    for (const jobId of this.undelivered) {
      if (!this.inFlight.has(jobId)) this.deliver(this.unstored.get(jobId)!, () => this.undelivered.delete(jobId));
    }
  }

  private deliver(result: Result, delivered: () => void): void {
    const { jobId } = result;
    this.inFlight.add(jobId);
    this.send(result).then(
      () => {
        this.inFlight.delete(jobId);
        delivered();
        this.log.info({ jobId }, 'result delivered');
      },
      (err: Error) => {
        this.inFlight.delete(jobId);
        this.log.warn({ jobId, err: err.message }, 'result not delivered yet; kept in the outbox');
      },
    );
  }

  private removeDelivered(jobId: string, file: string): void {
    try {
      unlinkSync(file);
    } catch (err) {
      // ENOENT: a resend raced this delivery. Anything else: the file stays, but this process sends it only once.
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      this.stuck.add(jobId);
      this.log.warn({ jobId, file, err: (err as Error).message }, 'delivered result cannot leave the outbox; it goes out again after a restart');
    }
  }

  private setAside(jobId: string, file: string): void {
    this.log.error({ jobId, file }, 'unreadable result in the outbox; moved aside');
    try {
      renameSync(file, `${file}.bad`);
    } catch (err) {
      this.stuck.add(jobId);
      this.log.error({ jobId, file, err: (err as Error).message }, 'cannot move the unreadable result aside; skipping it');
    }
  }

  private keepInMemory(result: Result, err: Error): void {
    this.unstored.delete(result.jobId);
    this.unstored.set(result.jobId, result);
    this.undelivered.add(result.jobId);
    for (const jobId of this.unstored.keys()) {
      if (this.unstored.size <= KEEP_DELIVERED) break;
      if (!this.undelivered.has(jobId)) this.unstored.delete(jobId);
    }
    for (const jobId of this.undelivered) {
      if (this.undelivered.size <= HOLD_UNDELIVERED) break;
      this.undelivered.delete(jobId);
      this.unstored.delete(jobId);
      this.log.error({ jobId }, `result lost: ${HOLD_UNDELIVERED} results are waiting in memory for a disk or a broker`);
    }
    this.log.error({ jobId: result.jobId, err: err.message }, 'cannot store the result on disk; holding it in memory until delivered (lost if the agent restarts first)');
  }

  private write(dir: string, result: Result): void {
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, `${result.jobId}.json`);
    try {
      // flushed before the rename and the rename flushed after it: a power cut leaves the old
      // state or the new one, never an empty file that the broker's PUBACK made the only copy
      const fd = openSync(`${file}.tmp`, 'w');
      try {
        writeSync(fd, JSON.stringify(result));
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(`${file}.tmp`, file);
      syncDir(dir);
    } catch (err) {
      // A full disk leaves a truncated temp file behind: give its blocks back.
      try {
        unlinkSync(`${file}.tmp`);
      } catch {
        // never created, or the disk is read-only: nothing to give back
      }
      throw err;
    }
  }

  private pendingOnDisk(): string[] {
    try {
      if (!existsSync(this.pendingDir)) return [];
      return readdirSync(this.pendingDir).filter((n) => n.endsWith('.json')).map((n) => n.slice(0, -5));
    } catch (err) {
      this.log.error({ dir: this.pendingDir, err: (err as Error).message }, 'cannot read the outbox');
      return [];
    }
  }

  private read(file: string): Result | undefined {
    try {
      const parsed = Result.safeParse(JSON.parse(readFileSync(file, 'utf8')));
      return parsed.success ? parsed.data : undefined;
    } catch {
      return undefined;
    }
  }

  private prune(): void {
    if (!existsSync(this.resultsDir)) return;
    const names = readdirSync(this.resultsDir).filter((n) => n.endsWith('.json'));
    if (names.length <= KEEP_DELIVERED) return;
    const pending = new Set(this.pending());
    const byAge = names
      .filter((n) => !pending.has(n.slice(0, -5)))
      .map((n) => ({ n, t: statSync(path.join(this.resultsDir, n)).mtimeMs }))
      .sort((a, b) => a.t - b.t);
    for (const { n } of byAge.slice(0, names.length - KEEP_DELIVERED)) unlinkSync(path.join(this.resultsDir, n));
  }
}

/** Makes a rename in `dir` durable; where a folder cannot be opened for that (Windows), the rename stands as it is. */
function syncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // EISDIR/EPERM/EINVAL where folders cannot be synced
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
