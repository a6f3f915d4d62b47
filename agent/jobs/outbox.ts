import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { Result } from '../../protocol/messages.js';

/** Results kept after delivery, so a job the controller sends again is answered, not re-run. */
const KEEP_DELIVERED = 500;

/**
 * Profiling results on disk under the agent's state dir: `results/` keeps
 * every finished job's result, `outbox/` those not yet acknowledged by the
 * broker (PUBACK). A result leaves the outbox only after its PUBACK, so one
 * finished while the broker is down survives restarts and goes out on reconnect.
 */
export class Outbox {
  private readonly resultsDir: string;
  private readonly pendingDir: string;
  private readonly inFlight = new Set<string>();

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
    const body = JSON.stringify(result);
    for (const dir of [this.resultsDir, this.pendingDir]) {
      mkdirSync(dir, { recursive: true });
      const file = path.join(dir, `${result.jobId}.json`);
      writeFileSync(`${file}.tmp`, body);
      renameSync(`${file}.tmp`, file);
    }
    this.prune();
    this.flush();
  }

  /** A stored result for this job, if it ran before. */
  get(jobId: string): Result | undefined {
    return this.read(path.join(this.resultsDir, `${jobId}.json`));
  }

  /** Queues a stored result for delivery again (the controller asked for a job that already ran). */
  resend(result: Result): void {
    mkdirSync(this.pendingDir, { recursive: true });
    const file = path.join(this.pendingDir, `${result.jobId}.json`);
    writeFileSync(`${file}.tmp`, JSON.stringify(result));
    renameSync(`${file}.tmp`, file);
    this.flush();
  }

  pending(): string[] {
    if (!existsSync(this.pendingDir)) return [];
    return readdirSync(this.pendingDir).filter((n) => n.endsWith('.json')).map((n) => n.slice(0, -5));
  }

  /** Sends every pending result not already awaiting its PUBACK. Failures stay pending for the next flush. */
  flush(): void {
    for (const jobId of this.pending()) {
      if (this.inFlight.has(jobId)) continue;
      const file = path.join(this.pendingDir, `${jobId}.json`);
      const result = this.read(file);
      if (!result) {
        this.log.error({ jobId, file }, 'unreadable result in the outbox; moved aside');
        renameSync(file, `${file}.bad`);
        continue;
      }
      this.inFlight.add(jobId);
      this.send(result).then(
        () => {
          this.inFlight.delete(jobId);
          try {
            unlinkSync(file);
          } catch {
            // already gone: a resend raced this delivery
          }
          this.log.info({ jobId }, 'result delivered');
        },
        (err: Error) => {
          this.inFlight.delete(jobId);
          this.log.warn({ jobId, err: err.message }, 'result not delivered yet; kept in the outbox');
        },
      );
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
