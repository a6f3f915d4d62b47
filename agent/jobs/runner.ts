import type { Logger } from 'pino';
import { decodeFor } from '../../protocol/channels.js';
import { firstIssue } from '../../protocol/first-issue.js';
import { Result, type Job } from '../../protocol/messages.js';
import { PROTOCOL_VERSION } from '../../protocol/topics.js';
import { missingProviderReason } from '../onnxruntime/providers.js';
import type { CheckFrame } from '../profile/check.js';
import { runProfile } from '../profile/run.js';
import type { MeasurementLock } from '../serve/lock.js';
import type { SourceSpec } from '../source/spec.js';
import { refKind } from '../../protocol/artifacts.js';
import { fetchCheckFrames, unpinCheckFrames } from './check-frames.js';
import type { ArtifactSource } from './model-source.js';
import type { Outbox } from './outbox.js';

export interface JobRunnerOptions {
  deviceId: string;
  /** Threads for jobs that name none (the agent's --threads). */
  defaultThreads?: number;
  artifacts: ArtifactSource;
  lock: MeasurementLock;
  outbox: Outbox;
  framesDir?: string;
  /** The agent's --source: profiles' end-to-end phase reads it (the profiling process opens it itself). */
  source?: SourceSpec;
  /** The execution providers this device offers (its inventory's): a job naming another fails before any download. */
  providers: readonly string[];
  /** The agent's state folder: TensorRT keeps its engines there, per model. */
  stateDir?: string;
  /** Whether a model is being served now (recorded in the result as paused for the job). */
  serving: () => boolean;
  log: Logger;
}

/**
 * The result as measured, or, when a figure in it is outside its physical
 * range (protocol/ranges.ts: a sensor that misread, a clock that jumped), a
 * failed result that says which: the controller would refuse the whole
 * message, and a failed profile is a result with its error, not a silence.
 */
export function inRange(result: Result): Result {
  const parsed = Result.safeParse(result);
  if (parsed.success) return result;
  const failed: Result = { ...result, ok: false, error: `the measurement is outside the protocol's physical ranges: ${firstIssue(parsed.error)}` };
  delete failed.profile;
  return failed;
}

/**
 * Jobs under way at once, fetching or measuring: one can measure while the
 * next fetches, and a slow download holds up one of them, not the queue. More
 * would split a slow link until each download falls under the low-speed limit,
 * and pin more models than the cache cap allows for.
 */
const UNDER_WAY = 2;

/**
 * Starts profiling jobs in arrival order, two under way at a time: each fetches
 * its model, then measures when the measurement lock is free, so measurements
 * never overlap. Of two jobs under way, the one whose model is ready first
 * measures first: waiting on the other's download would idle the device, and
 * the controller matches results by job id, not by order. A malformed job is
 * logged and dropped; a job that already ran is answered from its stored
 * result; every failure (artifact, model, crash, timeout) becomes a failed
 * result.
 */
export class JobRunner {
  private readonly queued = new Set<string>();
  private underWay = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly opts: JobRunnerOptions) {}

  submit(payload: Buffer): void {
    const { log, outbox } = this.opts;
    const msg = decodeFor('jobs', payload);
    if (!msg.ok) return log.warn({ reason: msg.reason }, 'malformed job dropped');
    const job = msg.value.options.threads === undefined && !msg.value.options.threadsSweep && this.opts.defaultThreads ? { ...msg.value, options: { ...msg.value.options, threads: this.opts.defaultThreads } } : msg.value;
    if (this.queued.has(job.jobId)) return log.info({ jobId: job.jobId }, 'job already queued; duplicate ignored');
    const done = outbox.get(job.jobId);
    if (done) {
      log.info({ jobId: job.jobId }, 'job already ran; sending its stored result again');
      return outbox.resend(done);
    }
    // Minutes of download, or of waiting behind other jobs, for a measurement that cannot happen: say at once what the device has instead.
    const missing = missingProviderReason(job.options.ep, this.opts.providers);
    if (missing) {
      log.info({ jobId: job.jobId, ok: false, error: missing }, 'job finished');
      return outbox.put({ v: PROTOCOL_VERSION, jobId: job.jobId, deviceId: this.opts.deviceId, kind: 'profile', artifactSha256: job.artifact.sha256, ...(job.candidateId ? { candidateId: job.candidateId } : {}), ts: Date.now(), ok: false, error: missing });
    }
    log.info({ jobId: job.jobId, sha256: job.artifact.sha256 }, 'job queued');
    this.queued.add(job.jobId);
    void this.start()
      .then(() => this.run(job))
      .catch((err: Error) => log.error({ jobId: job.jobId, err: err.message }, 'job result could not be stored'))
      .finally(() => {
        this.queued.delete(job.jobId);
        // the place passes straight to the next job waiting, if any
        const next = this.waiting.shift();
        if (next) next();
        else this.underWay--;
      });
  }

  private async start(): Promise<void> {
    if (this.underWay < UNDER_WAY) this.underWay++;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  private async run(job: Job): Promise<void> {
    const { log, artifacts, lock, outbox, deviceId } = this.opts;
    const base = { v: PROTOCOL_VERSION as typeof PROTOCOL_VERSION, jobId: job.jobId, deviceId, kind: 'profile' as const, artifactSha256: job.artifact.sha256, ...(job.candidateId ? { candidateId: job.candidateId } : {}) };
    let result: Result;
    try {
      // The signed manifest says what the artifact is: a frame is never loaded as a model, nor downloaded as one.
      if (refKind(job.artifact) !== 'model') throw new Error(`artifact ${job.artifact.sha256} is signed as a ${refKind(job.artifact) ?? 'unknown kind'}, not a model`);
      // Fetching is not measuring: serving and the next job go on while the model downloads.
      const modelPath = await artifacts.ensure(job.artifact);
      // pinned from now, so that other downloads cannot evict it while it waits for the lock
      artifacts.pin?.(job.artifact.sha256);
      let check: CheckFrame[] | undefined;
      try {
        check = job.check ? await fetchCheckFrames(artifacts, job.check) : undefined;
        const release = await lock.acquire(`job ${job.jobId}`, true);
        try {
          log.info({ jobId: job.jobId }, 'profiling');
          const outcome = await runProfile({ modelPath, options: job.options, framesDir: this.opts.framesDir, source: this.opts.source, stateDir: this.opts.stateDir, ...(check ? { check } : {}), servingPaused: this.opts.serving() });
          result = outcome.ok ? inRange({ ...base, ts: Date.now(), ok: true, profile: outcome.report }) : { ...base, ts: Date.now(), ok: false, error: outcome.error.slice(0, 4000) };
        } finally {
          release();
        }
      } finally {
        artifacts.unpin?.(job.artifact.sha256);
        unpinCheckFrames(artifacts, check);
      }
    } catch (err) {
      result = { ...base, ts: Date.now(), ok: false, error: `${err instanceof Error ? err.message : String(err)}`.slice(0, 4000) };
    }
    log.info({ jobId: job.jobId, ok: result.ok, error: result.error }, 'job finished');
    outbox.put(result);
  }
}
