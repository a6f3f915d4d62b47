import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import type { SourceSpec } from './spec.js';

/** The first executable `name` on a PATH string, or null. */
export function findOnPath(name: string, searchPath: string | undefined = process.env.PATH): string | null {
  for (const dir of (searchPath ?? '').split(path.delimiter)) {
    if (dir === '') continue;
    const file = path.join(dir, name);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return null;
}

export interface FfmpegInfo {
  path: string;
  /** As `ffmpeg -version` prints it, e.g. "5.1.6-0+deb12u1". */
  version: string;
}

/** ffmpeg on PATH and its version, for the inventory; null when there is none (or it does not run). */
export async function ffmpegInfo(searchPath?: string): Promise<FfmpegInfo | null> {
  const file = findOnPath('ffmpeg', searchPath);
  if (file === null) return null;
  const out = await new Promise<string | null>((resolve) =>
    execFile(file, ['-hide_banner', '-version'], { timeout: 10_000 }, (err, stdout) => resolve(err ? null : stdout)),
  );
  const version = out === null ? null : /^ffmpeg version (\S+)/m.exec(out)?.[1];
  return version ? { path: file, version } : null;
}

/**
 * A `ffmpeg -version` string as [major, minor] ("5.1.6-0+deb12u1" → [5, 1],
 * "n4.4.2" → [4, 4]); null for a git build ("N-112233-g…"), which is recent.
 */
export function ffmpegRelease(version: string): [number, number] | null {
  const m = /^n?(\d+)\.(\d+)/.exec(version);
  return m ? [Number(m[1]), Number(m[2])] : null;
}

/** Is this release older than major.minor? A git build (null) is not. */
export const olderThan = (release: [number, number] | null | undefined, major: number, minor: number): boolean =>
  release != null && (release[0] < major || (release[0] === major && release[1] < minor));

type Decoded = Exclude<SourceSpec, { kind: 'image' } | { kind: 'folder' }>;

/** Seconds ffmpeg waits on a silent socket before it fails (and the source reconnects). */
const IO_TIMEOUT_S = 5;

/**
 * Input options and the input itself, shared by ffprobe and ffmpeg. Before
 * 5.0 (Ubuntu 20.04 and 22.04, so JetPack 5 and 6, ship 4.x) RTSP's socket
 * timeout is -stimeout, and its -timeout would make RTSP listen instead.
 */
export function inputArgs(spec: Decoded, release?: [number, number] | null): string[] {
  switch (spec.kind) {
    case 'video':
      return ['-i', spec.path];
    case 'device':
      return ['-f', 'v4l2', '-i', spec.path];
    case 'stream':
      // TCP: interleaved RTP survives lossy Wi-Fi and NAT, where UDP loses whole frames
      if (spec.protocol === 'rtsp' || spec.protocol === 'rtsps') return ['-rtsp_transport', 'tcp', olderThan(release, 5, 0) ? '-stimeout' : '-timeout', String(IO_TIMEOUT_S * 1e6), '-i', spec.url];
      return ['-rw_timeout', String(IO_TIMEOUT_S * 1e6), '-i', spec.url];
  }
}

/** The first video stream's size (before rotation: the decoder runs with -noautorotate too). */
export function probeSize(ffprobe: string, spec: Decoded, o: { timeoutMs?: number; signal?: AbortSignal; release?: [number, number] | null } = {}): Promise<{ width: number; height: number }> {
  const timeoutMs = o.timeoutMs ?? 20_000;
  const signal = o.signal;
  const args = ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=width,height', '-of', 'csv=p=0', ...inputArgs(spec, o.release)];
  return new Promise((resolve, reject) =>
    execFile(ffprobe, args, { timeout: timeoutMs, signal }, (err, stdout, stderr) => {
      const m = /^(\d+),(\d+)/m.exec(stdout);
      if (m && Number(m[1]) > 0 && Number(m[2]) > 0) return resolve({ width: Number(m[1]), height: Number(m[2]) });
      const why = lastLine(stderr) ?? (err?.killed ? `no answer in ${timeoutMs / 1000} s` : err ? err.message : 'no video stream');
      reject(new Error(`ffprobe: ${why}`));
    }),
  );
}

/** The last non-empty line of a tool's stderr. */
export function lastLine(text: string): string | undefined {
  return text.split('\n').map((l) => l.trim()).filter(Boolean).pop();
}

export interface DecodeArgs {
  filter: string;
  /** Read a file at its own frame rate, as a camera delivers. */
  realtime: boolean;
  loop: boolean;
  /** ffmpeg's [major, minor], null for a git build: options were renamed in 5.0 and 5.1. */
  release: [number, number] | null;
}

/** ffmpeg's command line: decode, letterbox in the filter graph, raw rgb24 frames on stdout. */
export function decodeArgs(spec: Decoded, o: DecodeArgs): string[] {
  const pre = ['-hide_banner', '-nostdin', '-loglevel', 'error', '-noautorotate'];
  if (spec.kind === 'video') {
    if (o.realtime) pre.push('-re');
    if (o.loop) pre.push('-stream_loop', '-1');
  } else {
    // live: hand each frame on as soon as it is decoded
    pre.push('-fflags', 'nobuffer');
  }
  // passthrough: every decoded frame once, never duplicated or dropped to make a constant rate
  const sync = olderThan(o.release, 5, 1) ? ['-vsync', 'passthrough'] : ['-fps_mode', 'passthrough'];
  return [...pre, ...inputArgs(spec, o.release), '-map', '0:v:0', '-an', '-sn', '-dn', '-vf', o.filter, ...sync, '-pix_fmt', 'rgb24', '-f', 'rawvideo', 'pipe:1'];
}
