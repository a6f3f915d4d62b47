import { mkdirSync, readdirSync, readFileSync, statSync, unlinkSync, utimesSync } from 'node:fs';
import path from 'node:path';
import { ArtifactRef, SHA256_PATTERN, checkRef } from '../../protocol/artifacts.js';
import { ArtifactDownloadError, ArtifactRejected, downloadArtifact, installedPath, sha256File, sidecarPath, type DownloadOptions } from './download.js';
import { firstIssue } from '../../protocol/first-issue.js';

export const DEFAULT_CACHE_CAP_BYTES = 2 * 1024 * 1024 * 1024;

/** Where and how to download (see DownloadOptions), plus the disk cap. */
export interface ArtifactCacheOptions extends Omit<DownloadOptions, 'ref'> {
  capBytes: number;
}

interface Entry {
  sha256: string;
  size: number;
  lastUsed: number;
  /** The sha256 of the bytes on disk was checked in this process. */
  hashVerified: boolean;
}

export interface CacheEntryInfo {
  sha256: string;
  size: number;
  lastUsed: number;
  pinned: boolean;
}

/**
 * The agent's verified model cache. ensure() hands out a path only for bytes
 * whose sha256 matches a manifest signed by the pinned controller key; models
 * in use are pinned and never evicted; the rest go least recently used first
 * once the cache passes its disk cap.
 */
export class ArtifactCache {
  private readonly entries = new Map<string, Entry>();
  private readonly pins = new Map<string, number>();
  /** Downloads running, with how many callers still wait for each and how to stop it when none does. */
  private readonly inflight = new Map<string, { job: Promise<string>; waiters: number; stop: AbortController }>();
  /** Bytes of the downloads running now: the cap counts them before they land. */
  private reserved = 0;
  private clock = 0;

  constructor(private readonly opts: ArtifactCacheOptions) {
    if (!Number.isSafeInteger(opts.capBytes) || opts.capBytes <= 0) throw new Error(`cache cap must be a positive number of bytes, got ${opts.capBytes}`);
    mkdirSync(opts.dir, { recursive: true });
    this.scan();
    this.evict(0, new Set());
  }

  /** Downloads from now on present this token (a rotated one the agent read from --token-file). */
  setToken(token: string): void {
    this.opts.token = token;
  }

  /**
   * A verified local path for the artifact, downloading it if needed.
   * Concurrent calls for one artifact share one download; a caller whose
   * `signal` fires stops waiting (its promise rejects), and the download stops
   * once every caller has, keeping its partial file for a later resume.
   */
  ensure(ref: ArtifactRef, signal?: AbortSignal): Promise<string> {
    const parsed = ArtifactRef.safeParse(ref);
    if (!parsed.success) {
      const sha = typeof (ref as { sha256?: unknown } | null)?.sha256 === 'string' ? (ref as { sha256: string }).sha256 : '(none)';
      return Promise.reject(new ArtifactRejected(sha, 'manifest', `malformed ref: ${firstIssue(parsed.error, 'ref')}`));
    }
    const sha = parsed.data.sha256;
    const withdrawn = () => new ArtifactDownloadError(`no longer waiting for ${sha}`, false);
    if (signal?.aborted) return Promise.reject(withdrawn());
    let download = this.inflight.get(sha);
    if (!download || download.stop.signal.aborted) {
      // a download still stopping finishes before a new one writes to the same partial file
      const stopping = download?.job.catch(() => undefined);
      const stop = new AbortController();
      const job: Promise<string> = Promise.resolve(stopping)
        .then(() => this.load(parsed.data, stop.signal))
        .finally(() => {
          if (this.inflight.get(sha)?.job === job) this.inflight.delete(sha);
        });
      download = { job, waiters: 0, stop };
      this.inflight.set(sha, download);
    }
    download.waiters++;
    if (!signal) return download.job;
    const shared = download;
    return new Promise((resolve, reject) => {
      const leave = () => {
        // stopped a turn later, so that a newer state naming the same model joins this download instead
        if (--shared.waiters === 0) setImmediate(() => shared.waiters === 0 && shared.stop.abort());
        reject(withdrawn());
      };
      signal.addEventListener('abort', leave, { once: true });
      shared.job.then(
        (file) => (signal.removeEventListener('abort', leave), resolve(file)),
        (err: unknown) => (signal.removeEventListener('abort', leave), reject(err)),
      );
    });
  }

  /** Marks a model as in use: it stays on disk until every pin is released. */
  pin(sha256: string): void {
    this.pins.set(sha256, (this.pins.get(sha256) ?? 0) + 1);
  }

  unpin(sha256: string): void {
    const n = (this.pins.get(sha256) ?? 0) - 1;
    if (n > 0) this.pins.set(sha256, n);
    else this.pins.delete(sha256);
  }

  get usedBytes(): number {
    let total = 0;
    for (const e of this.entries.values()) total += e.size;
    return total;
  }

  get capBytes(): number {
    return this.opts.capBytes;
  }

  list(): CacheEntryInfo[] {
    return [...this.entries.values()]
      .sort((a, b) => b.lastUsed - a.lastUsed)
      .map((e) => ({ sha256: e.sha256, size: e.size, lastUsed: e.lastUsed, pinned: this.pins.has(e.sha256) }));
  }

  private async load(ref: ArtifactRef, signal: AbortSignal): Promise<string> {
    const { dir, log } = this.opts;
    // A cached copy is only as trusted as the ref naming it: check the signature every time.
    const check = checkRef(ref, this.opts.publicKeyPem);
    if (!check.ok) throw new ArtifactRejected(ref.sha256, check.reason, check.message);

    const cached = this.entries.get(ref.sha256);
    if (cached && !cached.hashVerified) {
      // Start-up checks size and signature only; the full hash is paid once, the first time the model is loaded.
      const digest = await sha256File(installedPath(dir, ref.sha256)).catch(() => 'unreadable');
      if (digest === ref.sha256) cached.hashVerified = true;
      else {
        log.warn({ sha256: ref.sha256, digest }, 'cached artifact is corrupt on disk; downloading it again');
        this.remove(ref.sha256);
      }
    }
    if (this.entries.has(ref.sha256)) return this.touch(ref.sha256);

    if (ref.size > this.opts.capBytes) {
      throw new ArtifactDownloadError(`artifact ${ref.sha256} (${ref.size} bytes) is larger than the whole cache (${this.opts.capBytes} bytes)`, false);
    }
    this.evict(ref.size, new Set([ref.sha256]));
    this.reserved += ref.size;
    try {
      await downloadArtifact({ ...this.opts, ref, dir, signal });
    } finally {
      this.reserved -= ref.size;
    }
    this.entries.set(ref.sha256, { sha256: ref.sha256, size: ref.size, lastUsed: 0, hashVerified: true });
    const file = this.touch(ref.sha256);
    this.evict(0, new Set([ref.sha256]));
    return file;
  }

  private touch(sha256: string): string {
    const entry = this.entries.get(sha256)!;
    this.clock = Math.max(Date.now(), this.clock + 1);
    entry.lastUsed = this.clock;
    const file = installedPath(this.opts.dir, sha256);
    // The file's mtime carries last use across restarts (atime is often disabled).
    try {
      utimesSync(file, new Date(), new Date(this.clock));
    } catch (err) {
      this.opts.log.warn({ sha256, err: (err as Error).message }, 'could not record artifact use');
    }
    return file;
  }

  /** Evicts least recently used, unpinned, idle entries until `incoming` more bytes fit under the cap. */
  private evict(incoming: number, keep: Set<string>): void {
    // parts of stopped downloads count too, and go first: a resume is worth less than a model
    const parts = this.idleParts(keep);
    let used = this.usedBytes + this.reserved + parts.reduce((n, p) => n + p.size, 0);
    if (used + incoming <= this.opts.capBytes) return;
    for (const p of parts) {
      if (used + incoming <= this.opts.capBytes) return;
      try {
        unlinkSync(p.file);
        used -= p.size;
        this.opts.log.info({ file: p.file, size: p.size }, 'dropped the partial download of an artifact nobody waits for');
      } catch (err) {
        this.opts.log.warn({ file: p.file, err: (err as Error).message }, 'cannot drop a partial download');
      }
    }
    const candidates = [...this.entries.values()]
      .filter((e) => !this.pins.has(e.sha256) && !keep.has(e.sha256) && !this.inflight.has(e.sha256))
      .sort((a, b) => a.lastUsed - b.lastUsed);
    for (const e of candidates) {
      if (used + incoming <= this.opts.capBytes) break;
      this.remove(e.sha256);
      used -= e.size;
      this.opts.log.info({ sha256: e.sha256, size: e.size }, 'evicted artifact (least recently used)');
    }
    if (used + incoming > this.opts.capBytes) {
      this.opts.log.warn({ used, incoming, cap: this.opts.capBytes }, 'artifact cache over its cap: the rest is pinned or in use');
    }
  }

  /** Partial files of downloads not running now (and not in `keep`), oldest first. */
  private idleParts(keep: Set<string>): { file: string; size: number }[] {
    const dir = path.join(this.opts.dir, 'partial');
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return [];
    }
    return names
      .filter((n) => n.endsWith('.part') && !this.inflight.has(n.slice(0, -5)) && !keep.has(n.slice(0, -5)))
      .flatMap((n) => {
        try {
          const st = statSync(path.join(dir, n));
          return [{ file: path.join(dir, n), size: st.size, t: st.mtimeMs }];
        } catch {
          return [];
        }
      })
      .sort((a, b) => a.t - b.t);
  }

  private remove(sha256: string): void {
    this.entries.delete(sha256);
    for (const file of [installedPath(this.opts.dir, sha256), sidecarPath(this.opts.dir, sha256)]) {
      try {
        unlinkSync(file);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
  }

  /** Start-up: keep an installed file only if its sidecar ref verifies against the pinned key and its size matches. */
  private scan(): void {
    const { dir, log } = this.opts;
    const names = readdirSync(dir);
    for (const name of names) {
      const file = path.join(dir, name);
      if (name.endsWith('.tmp')) {
        this.discard(() => unlinkSync(file), file);
        continue;
      }
      const m = /^([0-9a-f]{64})\.(onnx|json)$/.exec(name);
      if (!m) continue;
      const sha = m[1];
      if (m[2] === 'json') {
        if (!names.includes(`${sha}.onnx`)) this.discard(() => unlinkSync(file), file);
        continue;
      }
      const problem = this.checkInstalled(sha);
      if (problem) {
        log.warn({ sha256: sha, problem }, 'dropping cached artifact that fails verification');
        this.discard(() => this.remove(sha), installedPath(dir, sha));
        continue;
      }
      const { size, mtimeMs } = statSync(file);
      this.entries.set(sha, { sha256: sha, size, lastUsed: mtimeMs, hashVerified: false });
      this.clock = Math.max(this.clock, mtimeMs);
    }
  }

  /**
   * Start-up clean-up is best effort: a cache the disk will not let us tidy
   * (read-only, failing) still serves the verified models it holds, and each
   * download into it fails on its own with the reason.
   */
  private discard(drop: () => void, file: string): void {
    try {
      drop();
    } catch (err) {
      this.opts.log.warn({ file, err: (err as Error).message }, 'cannot delete a leftover in the artifact cache; left in place');
    }
  }

  private checkInstalled(sha: string): string | undefined {
    if (!SHA256_PATTERN.test(sha)) return 'bad name';
    let ref: ArtifactRef;
    try {
      const parsed = ArtifactRef.safeParse(JSON.parse(readFileSync(sidecarPath(this.opts.dir, sha), 'utf8')));
      if (!parsed.success) return 'malformed sidecar';
      ref = parsed.data;
    } catch {
      return 'missing or unreadable sidecar';
    }
    if (ref.sha256 !== sha) return 'sidecar names another artifact';
    const check = checkRef(ref, this.opts.publicKeyPem);
    if (!check.ok) return check.message;
    const size = statSync(installedPath(this.opts.dir, sha)).size;
    if (size !== ref.size) return `size ${size}, manifest says ${ref.size}`;
    return undefined;
  }
}
