import { closeSync, createWriteStream, openSync, type WriteStream } from 'node:fs';
import type { Logger } from 'pino';
import type { DetectionsMessage } from '../../protocol/messages.js';

/** Bytes a file may owe before records are dropped: about 500 lines of 20 boxes, a few seconds at camera rates. */
export const JSON_LINES_MAX_QUEUED_BYTES = 1024 * 1024;
/** Drops are logged at most this often (with the count since the last line). */
const DROP_LOG_EVERY_MS = 10_000;

function openForAppend(target: string): number {
  try {
    return openSync(target, 'a');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why = e.code === 'EISDIR' ? 'is a folder' : e.code === 'ENOENT' ? 'is in a folder that does not exist' : e.code === 'EACCES' ? 'is not writable (permission denied)' : `cannot be opened: ${e.message}`;
    throw new Error(`${target} ${why}`);
  }
}

/** The CLI's check at start: the file can be opened for appending (it is created if missing); a bad path throws one line. */
export function checkDetectionsPath(target: string): void {
  if (target !== '-') closeSync(openForAppend(target));
}

/**
 * `--detections PATH` (or `-` for stdout): one JSON line per served frame.
 * Writes go through libuv's thread pool (a WriteStream on the fd, stdout
 * included, where a plain process.stdout write to a pipe blocks on Linux), so
 * a slow disk or reader never stalls the serving loop: what it owes is
 * bounded, records beyond it are dropped, counted, and logged now and then.
 */
export class JsonLinesSink {
  dropped = 0;
  written = 0;
  private droppedLogged = 0;
  private lastDropLog = 0;

  private constructor(
    private readonly stream: WriteStream,
    readonly target: string,
    private readonly log: Logger,
    private readonly maxQueuedBytes: number,
  ) {
    stream.on('error', (err) => log.error({ target, err: err.message }, 'detections file failed; no more lines are written'));
  }

  /** Opens (appends to) the file now; '-' is stdout. */
  static open(target: string, log: Logger, maxQueuedBytes = JSON_LINES_MAX_QUEUED_BYTES): JsonLinesSink {
    const fd = target === '-' ? 1 : openForAppend(target);
    return new JsonLinesSink(createWriteStream('', { fd, autoClose: target !== '-' }), target, log, maxQueuedBytes);
  }

  write(record: DetectionsMessage): void {
    if (this.stream.destroyed || this.stream.writableEnded) return;
    if (this.stream.writableLength > this.maxQueuedBytes) {
      this.dropped++;
      const now = Date.now();
      if (now - this.lastDropLog >= DROP_LOG_EVERY_MS) {
        this.log.warn({ target: this.target, dropped: this.dropped - this.droppedLogged, droppedTotal: this.dropped }, 'detections lines dropped: the file cannot keep up');
        this.lastDropLog = now;
        this.droppedLogged = this.dropped;
      }
      return;
    }
    this.written++;
    this.stream.write(JSON.stringify(record) + '\n');
  }

  /** Flushes what is queued; a disk that does not answer within `waitMs` is left behind. */
  async close(waitMs = 2000): Promise<void> {
    if (this.stream.destroyed || this.stream.writableEnded) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, waitMs);
      this.stream.end(() => {
        clearTimeout(timer);
        resolve();
      });
    });
    if (this.dropped > this.droppedLogged) this.log.warn({ target: this.target, dropped: this.dropped - this.droppedLogged, droppedTotal: this.dropped }, 'detections lines dropped: the file cannot keep up');
  }
}
