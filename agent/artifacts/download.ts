import { createHash, type Hash } from 'node:crypto';
import { createReadStream, createWriteStream, mkdirSync } from 'node:fs';
import { open, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import path from 'node:path';
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import type { Logger } from 'pino';
import { checkRef, type ArtifactRef } from '../../protocol/artifacts.js';
import type { TlsClientOptions } from '../tls/trust.js';
import { codedError, EdgefitError } from '../../protocol/errors.js';

export type RejectionReason = 'signature' | 'manifest' | 'hash' | 'size';

/** The artifact is not what the controller signed: it was deleted, and nothing may load it. */
export class ArtifactRejected extends EdgefitError<'E_ARTIFACT_REJECTED'> {
  override name = 'ArtifactRejected';
  constructor(
    readonly sha256: string,
    readonly reason: RejectionReason,
    message: string,
  ) {
    super('E_ARTIFACT_REJECTED', { sha256, check: reason, detail: message });
  }
}

/** The download could not complete; `retryable` says whether trying again may help. */
export class ArtifactDownloadError extends codedError('E_ARTIFACT_DOWNLOAD') {
  override name = 'ArtifactDownloadError';
  constructor(
    message: string,
    readonly retryable: boolean,
  ) {
    super(message);
  }
}

export function basicAuth(deviceId: string, token: string): string {
  return `Basic ${Buffer.from(`${deviceId}:${token}`).toString('base64')}`;
}

export interface DownloadOptions {
  ref: ArtifactRef;
  /** The cache directory: partial files under partial/, installed ones at <sha256>.onnx. */
  dir: string;
  controllerUrl: string;
  deviceId: string;
  token: string;
  /** The pinned controller key (see key-pin.ts): the only signer trusted. */
  publicKeyPem: string;
  /** For an https controller: the CA it is verified against and the device's client certificate (agent/tls/trust.ts). */
  tls?: TlsClientOptions;
  log: Logger;
  /** Consecutive attempts that receive no new byte before giving up. */
  attempts?: number;
  retryDelayMs?: number;
  /** A connection that delivers nothing for this long is dropped and resumed. */
  idleTimeoutMs?: number;
  /**
   * A connection that averages less than this over a whole idle window is
   * dropped too (curl's low-speed limit), and an attempt whose new bytes come
   * to less than this rate over its time, the wait before it included, makes
   * no progress: neither a trickle nor a link cut every few bytes may hold the
   * agent's jobs for ever.
   */
  minBytesPerSecond?: number;
  /** Stops the download (the partial file stays for a later resume). */
  signal?: AbortSignal;
}

export const installedPath = (dir: string, sha256: string) => path.join(dir, `${sha256}.onnx`);
export const sidecarPath = (dir: string, sha256: string) => path.join(dir, `${sha256}.json`);
export const partialPath = (dir: string, sha256: string) => path.join(dir, 'partial', `${sha256}.part`);

async function sizeOf(file: string): Promise<number> {
  try {
    return (await stat(file)).size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw err;
  }
}

async function hashFile(hash: Hash, file: string, bytes: number): Promise<void> {
  if (bytes === 0) return;
  for await (const chunk of createReadStream(file, { start: 0, end: bytes - 1 })) hash.update(chunk as Buffer);
}

/** sha256 of a whole file, hex. */
export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * Fetches, verifies and installs one artifact. The ref's signature and
 * manifest are checked before any byte is requested; bytes land in a partial
 * file that survives interruptions and is resumed with a Range request; the
 * file is renamed into place only once its size and sha256 match the signed
 * manifest. Returns the installed path.
 */
export async function downloadArtifact(opts: DownloadOptions): Promise<string> {
  const { ref, dir, log } = opts;
  const check = checkRef(ref, opts.publicKeyPem);
  if (!check.ok) throw new ArtifactRejected(ref.sha256, check.reason, check.message);
  mkdirSync(path.join(dir, 'partial'), { recursive: true });
  const part = partialPath(dir, ref.sha256);

  let { digest, resumed } = await fetchWithRetries(opts, part);
  if (digest !== ref.sha256 && resumed) {
    // A resumed copy may carry local corruption from before the interruption: one clean try settles whose bytes are wrong.
    log.warn({ sha256: ref.sha256 }, 'resumed artifact failed its hash; downloading it again from the start');
    await unlink(part);
    ({ digest } = await fetchWithRetries(opts, part));
  }
  if (digest !== ref.sha256) {
    await unlink(part).catch(() => undefined);
    throw new ArtifactRejected(ref.sha256, 'hash', `received bytes hash to ${digest}, the signed manifest says ${ref.sha256}`);
  }

  const sidecar = sidecarPath(dir, ref.sha256);
  await writeFile(`${sidecar}.tmp`, JSON.stringify(ref));
  await rename(`${sidecar}.tmp`, sidecar);
  const target = installedPath(dir, ref.sha256);
  await rename(part, target);
  log.info({ sha256: ref.sha256, size: ref.size, name: check.manifest.name }, 'artifact verified and installed');
  return target;
}

const minRate = (opts: DownloadOptions) => opts.minBytesPerSecond ?? 1024;

async function fetchWithRetries(opts: DownloadOptions, part: string): Promise<{ digest: string; resumed: boolean }> {
  const attempts = opts.attempts ?? 5;
  let failures = 0;
  let resumed = false;
  // Progress is measured against the most bytes ever held, so a server that keeps
  // failing at the same spot (or forcing restarts) still runs out of attempts.
  let highWater = await sizeOf(part);
  let since = Date.now();
  const stopped = () => new ArtifactDownloadError(`download of ${opts.ref.sha256} stopped: nothing waits for it any more`, false);
  for (;;) {
    if (opts.signal?.aborted) throw stopped();
    try {
      const result = await fetchOnce(opts, part);
      return { digest: result.digest, resumed: resumed || result.resumed };
    } catch (err) {
      if (opts.signal?.aborted) throw stopped();
      if (err instanceof ArtifactRejected || (err instanceof ArtifactDownloadError && !err.retryable)) throw err;
      const after = await sizeOf(part);
      resumed ||= after > 0;
      const progressed = after - highWater >= Math.max(1, (minRate(opts) * (Date.now() - since)) / 1000);
      since = Date.now();
      highWater = Math.max(highWater, after);
      failures = progressed ? 0 : failures + 1;
      if (failures >= attempts) throw new ArtifactDownloadError(`download of ${opts.ref.sha256} failed ${failures} times without progress: ${(err as Error).message}`, true);
      opts.log.warn({ sha256: opts.ref.sha256, have: after, size: opts.ref.size, err: (err as Error).message }, 'artifact download interrupted; resuming');
      // Doubling waits (1, 2, 4, 8 s by default): five attempts 1 s apart gave a controller 5 s to come back,
      // and in the fault campaign a SIGKILLed controller took longer to restart at load average ~20, so a
      // profile's download failed, its candidate with it, and the canary's rollout aborted (seed 2).
      await sleep(Math.min(30_000, (opts.retryDelayMs ?? 1000) * 2 ** Math.max(0, failures - 1)), undefined, { signal: opts.signal }).catch(() => undefined);
    }
  }
}

/** GET with node:http(s): unlike fetch, every body byte that reached the socket is handed over before a cut is reported; and it takes a CA. */
function get(url: URL, headers: Record<string, string>, idleMs: number, signal?: AbortSignal, tls?: TlsClientOptions): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = url.protocol === 'https:' ? https.get(url, { headers, signal, ...tls }, resolve) : http.get(url, { headers, signal }, resolve);
    req.setTimeout(idleMs, () => req.destroy(new Error(`no data for ${idleMs} ms`)));
    req.on('error', (err) => reject(new ArtifactDownloadError(`controller unreachable: ${err.message}`, true)));
  });
}

/**
 * Streams a response body into the partial file. Chunks are taken as they
 * arrive (flowing mode) and queued on the file stream, so bytes received before
 * an interruption are all on disk when this settles; `accept` sees each chunk
 * first and may refuse it by throwing.
 */
function receive(res: IncomingMessage, part: string, append: boolean, accept: (chunk: Buffer) => void, pace: { windowMs: number; minBytesPerSecond: number }): Promise<Error | undefined> {
  return new Promise((resolve) => {
    // A roomy write buffer keeps the response flowing: bytes a paused response
    // holds when the connection drops are lost and fetched again on resume.
    const out = createWriteStream(part, { flags: append ? 'a' : 'w', highWaterMark: 8 * 1024 * 1024 });
    let failure: Error | undefined;
    let settled = false;
    let windowBytes = 0;
    const minWindowBytes = (pace.minBytesPerSecond * pace.windowMs) / 1000;
    const watch = setInterval(() => {
      if (!failure && windowBytes < minWindowBytes) {
        failure = new ArtifactDownloadError(`under ${pace.minBytesPerSecond} bytes/s for ${pace.windowMs / 1000} s (${windowBytes} bytes)`, true);
        res.destroy();
      }
      windowBytes = 0;
    }, pace.windowMs);
    const settle = (err: Error | undefined) => {
      if (settled) return;
      settled = true;
      clearInterval(watch);
      failure ??= err;
      out.end(() => resolve(failure));
    };
    out.on('error', (err) => {
      clearInterval(watch);
      failure ??= new ArtifactDownloadError(`cannot write ${part}: ${err.message}`, false);
      res.destroy();
      resolve(failure);
    });
    res.on('data', (chunk: Buffer) => {
      if (failure) return;
      windowBytes += chunk.length;
      try {
        accept(chunk);
      } catch (err) {
        failure = err as Error;
        res.destroy();
        return;
      }
      if (!out.write(chunk)) {
        res.pause();
        out.once('drain', () => res.resume());
      }
    });
    let error: Error | undefined;
    res.on('error', (err) => (error = err));
    res.on('close', () => settle(res.complete ? undefined : new Error(error?.message ?? 'connection closed early')));
  });
}

/** One HTTP request: resumes from the partial file's length, returns the sha256 of the complete file. */
async function fetchOnce(opts: DownloadOptions, part: string): Promise<{ digest: string; resumed: boolean }> {
  const { ref } = opts;
  let have = await sizeOf(part);
  if (have > ref.size) {
    await unlink(part);
    have = 0;
  }
  let hash = createHash('sha256');
  await hashFile(hash, part, have);
  if (have === ref.size) return { digest: hash.digest('hex'), resumed: have > 0 };

  const headers: Record<string, string> = { authorization: basicAuth(opts.deviceId, opts.token) };
  if (have > 0) {
    headers.range = `bytes=${have}-`;
    headers['if-range'] = `"${ref.sha256}"`;
  }
  const idleMs = opts.idleTimeoutMs ?? 30_000;
  const res = await get(new URL(`${opts.controllerUrl.replace(/\/+$/, '')}/artifacts/${ref.sha256}`), headers, idleMs, opts.signal, opts.tls);
  const refuse = async (err: Error, dropPartial: boolean): Promise<never> => {
    res.destroy();
    if (dropPartial) await unlink(part).catch(() => undefined);
    throw err;
  };
  const status = res.statusCode ?? 0;
  if (status === 206) {
    const range = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(res.headers['content-range'] ?? '');
    if (range && Number(range[3]) !== ref.size) {
      await refuse(new ArtifactRejected(ref.sha256, 'size', `controller holds ${range[3]} bytes, the signed manifest says ${ref.size}`), true);
    }
    if (!range || Number(range[1]) !== have || Number(range[2]) !== ref.size - 1) {
      await refuse(new ArtifactDownloadError(`asked for bytes=${have}-, the controller answered '${res.headers['content-range']}': starting over`, true), true);
    }
  } else if (status === 200) {
    const length = res.headers['content-length'];
    if (length !== undefined && Number(length) !== ref.size) {
      await refuse(new ArtifactRejected(ref.sha256, 'size', `controller sends ${length} bytes, the signed manifest says ${ref.size}`), true);
    }
    if (have > 0) opts.log.info({ sha256: ref.sha256, had: have }, 'controller sent the whole artifact; restarting from zero');
    have = 0;
    hash = createHash('sha256');
  } else if (status === 416) {
    await refuse(new ArtifactDownloadError(`controller cannot resume at byte ${have}: starting over`, true), true);
  } else {
    const retryable = status >= 500 || status === 429;
    await refuse(new ArtifactDownloadError(`GET /artifacts/${ref.sha256} answered ${status}${status === 401 ? ' (device credentials refused)' : ''}`, retryable), false);
  }

  const resumed = status === 206;
  const failure = await receive(res, part, resumed, (chunk) => {
    if (have + chunk.length > ref.size) throw new ArtifactRejected(ref.sha256, 'size', `controller sent more than the ${ref.size} bytes the signed manifest says`);
    hash.update(chunk);
    have += chunk.length;
  }, { windowMs: idleMs, minBytesPerSecond: minRate(opts) });
  if (failure instanceof ArtifactRejected) {
    await unlink(part).catch(() => undefined);
    throw failure;
  }
  if (failure instanceof ArtifactDownloadError) throw failure;
  if (failure || have !== ref.size) {
    throw new ArtifactDownloadError(`connection lost after ${have} of ${ref.size} bytes${failure ? `: ${failure.message}` : ''}`, true);
  }
  const file = await open(part, 'r+');
  try {
    await file.sync();
  } finally {
    await file.close();
  }
  return { digest: hash.digest('hex'), resumed };
}

/** A small JSON GET from the controller (the enrollment key) under the same trust as downloads. */
export async function getJson(url: string, headers: Record<string, string>, tls?: TlsClientOptions, timeoutMs = 15_000): Promise<{ status: number; body: unknown }> {
  const res = await get(new URL(url), headers, timeoutMs, undefined, tls);
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  return { status: res.statusCode ?? 0, body };
}
