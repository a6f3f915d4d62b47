import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { Readable } from 'node:stream';
import type { LetterboxedImage } from '../../compress/detect/letterbox.js';
import { backoffDelay, DEFAULT_BACKOFF, type Backoff } from './backoff.js';
import { decodeArgs, lastLine, probeSize } from './ffmpeg.js';
import { letterboxFilter } from './letterbox-filter.js';
import { sourceName, type SourceSpec } from './spec.js';
import { SourceEndedError, type SourceEvent, type SourceStats, type StatsSource } from './types.js';

type Decoded = Exclude<SourceSpec, { kind: 'image' } | { kind: 'folder' }>;

export interface FfmpegSourceOptions {
  /** The model input the frames are letterboxed to. */
  width: number;
  height: number;
  ffmpeg: string;
  ffprobe: string;
  /** ffmpeg's [major, minor] (ffmpegRelease): older releases spell some options differently. */
  release: [number, number] | null;
  /**
   * 'latest' (a camera): read the pipe continuously, keep only the newest
   * frame, count the others as dropped; a video file plays at its own rate.
   * 'every': the decoder waits for the consumer (pipe backpressure), nothing
   * is dropped; a video file decodes as fast as it is consumed.
   */
  pace: 'latest' | 'every';
  /** A video file starts over at its end; otherwise next() throws SourceEndedError after its last frame. */
  loop: boolean;
  backoff?: Backoff;
  /** A live source with no frame for this long is restarted (a server that holds the socket open but sends nothing). */
  stallMs?: number;
  onEvent?: (e: SourceEvent) => void;
}

/** Linux's USER_HZ: 100 on x86 and arm64 (what /proc/PID/stat counts in). */
const CLOCK_TICKS = 100;

function cpuMs(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // fields after the ")" of the command name; utime and stime are fields 14 and 15
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / CLOCK_TICKS;
  } catch {
    return null;
  }
}

/**
 * Frames decoded by an ffmpeg child that letterboxes them in its filter graph
 * and writes raw rgb24 to a pipe: Node only copies bytes. A live source (or a
 * video file that fails) that is lost — ffmpeg exits, the socket goes silent,
 * EOF on a stream — is started again after a capped, jittered backoff, and
 * the size is probed again each time (a camera may come back in another mode).
 */
export class FfmpegSource implements StatsSource {
  readonly name: string;
  private readonly live: boolean;
  private child?: ChildProcessByStdio<null, Readable, Readable>;
  private frameBytes = 0;
  private transform?: LetterboxedImage['letterbox'];
  private partial?: Uint8Array;
  private filled = 0;
  private readonly queue: LetterboxedImage[] = [];
  private spare?: Uint8Array;
  /** next() calls waiting for a frame, an end or an error (each looks again when woken). */
  private waiters: Array<() => void> = [];
  private closed = false;
  /** Stops a size probe in flight when the source closes. */
  private readonly closing = new AbortController();
  private ended = false;
  private fatal?: Error;
  private attempt = 0;
  private retryTimer?: NodeJS.Timeout;
  private stallTimer?: NodeJS.Timeout;
  private lost = false;
  /** Why the stall timer killed the current child, if it did. */
  private stalled?: string;
  private lastFrameAt: number | null = null;
  /** Frames from the current ffmpeg child: its CPU time is over these. */
  private childFrames = 0;
  private cpu = { doneMs: 0, doneFrames: 0, nowMs: 0, nowFrames: 0, sampledAt: 0 };
  private counts = { decoded: 0, delivered: 0, dropped: 0, reconnects: 0 };
  private lastError: string | null = null;
  private lastGap: SourceStats['lastGap'] = null;

  constructor(readonly spec: Decoded, private readonly o: FfmpegSourceOptions) {
    this.name = sourceName(spec);
    this.live = spec.kind !== 'video';
  }

  /**
   * Starts the first connection; resolves once the first size probe is
   * answered or failed. A video file ffprobe cannot read rejects; a live
   * source that is down keeps retrying.
   */
  async start(): Promise<void> {
    await this.connect();
    if (this.fatal) throw this.fatal;
  }

  private async connect(): Promise<void> {
    if (this.closed) return;
    let size;
    try {
      size = await probeSize(this.o.ffprobe, this.spec, { signal: this.closing.signal, release: this.o.release });
    } catch (err) {
      if (this.closed) return;
      if (this.live) return this.onLoss((err as Error).message);
      this.lastError = (err as Error).message;
      this.fatal = new Error(`${this.name}: ${this.lastError}`);
      return this.wake();
    }
    if (this.closed) return;
    const { filter, transform } = letterboxFilter(size.width, size.height, this.o.width, this.o.height);
    this.transform = transform;
    this.frameBytes = this.o.width * this.o.height * 3;
    this.partial = undefined;
    this.filled = 0;
    this.childFrames = 0;
    this.stalled = undefined;
    const args = decodeArgs(this.spec, { filter, realtime: this.o.pace === 'latest', loop: this.o.loop, release: this.o.release });
    const child = spawn(this.o.ffmpeg, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    let stderr = '';
    let gotFrame = false;
    child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
    child.stdout.on('data', (chunk: Buffer) => {
      if (!gotFrame && this.take(chunk)) {
        gotFrame = true;
        this.o.onEvent?.({ type: 'connected', width: size.width, height: size.height, reconnect: this.lost });
        if (this.lost) {
          this.counts.reconnects++;
          if (this.lastGap) this.lastGap.to = new Date().toISOString();
          this.lost = false;
        }
        this.attempt = 0;
      } else if (gotFrame) {
        this.take(chunk);
      }
      this.armStall();
    });
    this.armStall();
    child.once('error', (err) => (stderr += `\n${err.message}`));
    // a pipe error ends in 'close' like any other loss; without a listener it would crash the agent
    child.stdout.on('error', (err) => (stderr += `\n${err.message}`));
    child.once('close', (code, signal) => {
      clearTimeout(this.stallTimer);
      this.foldCpu();
      if (this.child === child) this.child = undefined;
      if (this.closed) return;
      if (!this.live && code === 0) {
        this.ended = true;
        this.wake();
        return;
      }
      const why = this.stalled ?? lastLine(stderr) ?? (signal ? `ffmpeg killed by ${signal}` : code === 0 ? 'the stream ended' : `ffmpeg exited with status ${code}`);
      if (!this.live && (!gotFrame || !this.o.loop)) {
        // a file that never gave a frame will not give one on a retry either, and
        // one read once would start over: its frames so far are served, then this error
        this.fatal = new Error(`${this.name}: ${why}`);
        this.lastError = why;
        this.wake();
        return;
      }
      this.onLoss(why);
    });
  }

  /** Copies a chunk into frames; true if at least one frame completed. */
  private take(chunk: Buffer): boolean {
    let completed = false;
    let at = 0;
    while (at < chunk.length) {
      if (!this.partial) {
        this.partial = this.spare && this.spare.length === this.frameBytes ? this.spare : new Uint8Array(this.frameBytes);
        this.spare = undefined;
        this.filled = 0;
      }
      const n = Math.min(chunk.length - at, this.frameBytes - this.filled);
      this.partial.set(chunk.subarray(at, at + n), this.filled);
      this.filled += n;
      at += n;
      if (this.filled === this.frameBytes) {
        this.push(this.partial);
        this.partial = undefined;
        completed = true;
      }
    }
    return completed;
  }

  private push(rgb: Uint8Array): void {
    this.counts.decoded++;
    this.childFrames++;
    this.lastFrameAt = Date.now();
    const frame: LetterboxedImage = { width: this.o.width, height: this.o.height, rgb, letterbox: this.transform! };
    if (this.o.pace === 'latest') {
      const old = this.queue.shift();
      if (old) {
        this.counts.dropped++;
        this.spare = old.rgb;
      }
    }
    this.queue.push(frame);
    // 'every': hold the decoder while two frames wait (one being read, one ready)
    if (this.o.pace === 'every' && this.queue.length >= 2) this.child?.stdout.pause();
    if (Date.now() - this.cpu.sampledAt > 1000) this.sampleCpu();
    this.wake();
  }

  private sampleCpu(): void {
    const pid = this.child?.pid;
    const ms = pid === undefined ? null : cpuMs(pid);
    if (ms === null) return;
    this.cpu.nowMs = ms;
    this.cpu.nowFrames = this.childFrames;
    this.cpu.sampledAt = Date.now();
  }

  /**
   * At a child's end: its last sample joins the totals (its /proc entry is
   * gone now); frames it decoded after that sample stay out of the ratio.
   */
  private foldCpu(): void {
    this.cpu.doneMs += this.cpu.nowMs;
    this.cpu.doneFrames += this.cpu.nowFrames;
    this.cpu.nowMs = 0;
    this.cpu.nowFrames = 0;
  }

  private armStall(): void {
    if (!this.live) return;
    clearTimeout(this.stallTimer);
    const stallMs = this.o.stallMs ?? 10_000;
    const child = this.child;
    this.stallTimer = setTimeout(() => {
      if (this.child !== child || !child) return;
      this.stalled = `no frame for ${stallMs / 1000} s`;
      child.kill('SIGKILL');
    }, stallMs);
    this.stallTimer.unref();
  }

  private onLoss(why: string): void {
    if (this.closed) return;
    this.lastError = why;
    if (!this.lost) {
      this.lost = true;
      this.lastGap = { from: new Date(this.lastFrameAt ?? Date.now()).toISOString(), to: null };
    }
    const delay = backoffDelay(this.attempt++, this.o.backoff ?? DEFAULT_BACKOFF);
    this.o.onEvent?.({ type: 'lost', error: why, retryInMs: Math.round(delay) });
    this.retryTimer = setTimeout(() => void this.connect(), delay);
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  async next(): Promise<LetterboxedImage> {
    for (;;) {
      const frame = this.queue.shift();
      if (frame) {
        this.counts.delivered++;
        if (this.o.pace === 'every' && this.queue.length < 2) this.child?.stdout.resume();
        return frame;
      }
      if (this.fatal) throw this.fatal;
      if (this.closed) throw new SourceEndedError(`${this.name}: closed`);
      if (this.ended) throw new SourceEndedError(`${this.name}: end of video`);
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  stats(): SourceStats {
    this.sampleCpu();
    const frames = this.cpu.doneFrames + this.cpu.nowFrames;
    return {
      framesDecoded: this.counts.decoded,
      framesDelivered: this.counts.delivered,
      framesDropped: this.counts.dropped,
      reconnects: this.counts.reconnects,
      decodeMsPerFrame: frames > 0 ? (this.cpu.doneMs + this.cpu.nowMs) / frames : null,
      lastError: this.lastError,
      lastGap: this.lastGap && { ...this.lastGap },
      connected: this.child !== undefined && !this.lost && this.counts.decoded > 0,
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.closing.abort();
    clearTimeout(this.retryTimer);
    clearTimeout(this.stallTimer);
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      const gone = new Promise<void>((resolve) => child.once('close', () => resolve()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
      await gone;
      clearTimeout(timer);
    }
    this.wake();
  }
}
