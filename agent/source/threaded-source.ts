import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { LetterboxedImage } from '../../compress/detect/letterbox.js';
import { sourceName } from './spec.js';
import { SourceEndedError, type SourceEvent, type SourceStats, type StatsSource } from './types.js';
import type { FromWorker, WorkerInit } from './worker-messages.js';

// Beside this file when built; from the sources (tests), the built copy (npm test builds first).
const BESIDE = fileURLToPath(new URL('./source-worker.js', import.meta.url));
const WORKER = existsSync(BESIDE) ? BESIDE : fileURLToPath(new URL('../../dist/agent/source/source-worker.js', import.meta.url));

const EMPTY: SourceStats = { framesDecoded: 0, framesDelivered: 0, framesDropped: 0, reconnects: 0, decodeMsPerFrame: null, lastError: null, lastGap: null, connected: false };

/**
 * An ffmpeg source read in a worker thread (see source-worker.ts for why);
 * frames come over as transferred buffers, nothing is copied. stats() is the
 * worker's latest report (at most 0.5 s old, fresher after each frame).
 */
export class ThreadedSource implements StatsSource {
  readonly name: string;
  readonly spec: WorkerInit['spec'];
  private readonly worker: Worker;
  private latest: SourceStats = EMPTY;
  private pending: Array<{ resolve: (f: LetterboxedImage) => void; reject: (e: Error) => void }> = [];
  private dead?: Error;
  private closed?: Promise<void>;

  private constructor(init: WorkerInit, onEvent: ((e: SourceEvent) => void) | undefined, started: { resolve: () => void; reject: (e: Error) => void }) {
    this.spec = init.spec;
    this.name = sourceName(init.spec);
    this.worker = new Worker(WORKER, { workerData: init });
    this.worker.on('message', (m: FromWorker) => {
      if ('stats' in m) this.latest = m.stats;
      if (m.type === 'started') started.resolve();
      else if (m.type === 'failed') started.reject(new Error(m.message));
      else if (m.type === 'event') onEvent?.(m.event);
      else if (m.type === 'frame') this.pending.shift()?.resolve({ width: m.width, height: m.height, rgb: m.rgb, letterbox: m.letterbox });
      else if (m.type === 'error') this.pending.shift()?.reject(m.ended ? new SourceEndedError(m.message) : new Error(m.message));
    });
    const fail = (err: Error) => {
      this.dead ??= err;
      started.reject(err);
      for (const p of this.pending.splice(0)) p.reject(err);
    };
    this.worker.on('error', (err) => fail(new Error(`${this.name}: the source thread failed: ${err.message}`)));
    this.worker.on('exit', () => fail(new SourceEndedError(`${this.name}: closed`)));
  }

  static async open(init: WorkerInit, onEvent?: (e: SourceEvent) => void): Promise<ThreadedSource> {
    let source!: ThreadedSource;
    const started = new Promise<void>((resolve, reject) => (source = new ThreadedSource(init, onEvent, { resolve, reject })));
    try {
      await started;
    } catch (err) {
      await source.worker.terminate();
      throw err;
    }
    return source;
  }

  next(): Promise<LetterboxedImage> {
    if (this.dead) return Promise.reject(this.dead);
    if (this.closed) return Promise.reject(new SourceEndedError(`${this.name}: closed`));
    return new Promise((resolve, reject) => {
      this.pending.push({ resolve, reject });
      this.worker.postMessage({ type: 'next' });
    });
  }

  stats(): SourceStats {
    return { ...this.latest, lastGap: this.latest.lastGap && { ...this.latest.lastGap } };
  }

  close(): Promise<void> {
    this.closed ??= (async () => {
      if (this.dead) return;
      const done = new Promise<void>((resolve) => {
        this.worker.on('message', (m: FromWorker) => m.type === 'closed' && resolve());
        this.worker.once('exit', () => resolve());
      });
      this.worker.postMessage({ type: 'close' });
      await done;
      await this.worker.terminate();
    })();
    return this.closed;
  }
}
