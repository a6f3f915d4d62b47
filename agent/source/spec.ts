import { statSync } from 'node:fs';
import { codedError } from '../../protocol/errors.js';

/**
 * What a `--source` string names. Images and folders of images decode in
 * Node (jpeg-js, pngjs); everything else goes through an ffmpeg child.
 */
export type SourceSpec =
  | { kind: 'image'; path: string }
  | { kind: 'folder'; path: string }
  | { kind: 'video'; path: string }
  | { kind: 'device'; path: string; index: number }
  | { kind: 'stream'; url: string; protocol: 'rtsp' | 'rtsps' | 'http' | 'https' };

/** A `--source` string that names nothing usable: the message is the one line to print. */
export class SourceSpecError extends codedError('E_SOURCE_SPEC') {
  override name = 'SourceSpecError';
}

/** What a path is on disk, or null when there is nothing there (injected so parsing stays pure). */
export type PathKind = 'file' | 'dir' | 'char' | 'other' | null;
export type StatPath = (path: string) => PathKind;

export const statPath: StatPath = (p) => {
  try {
    const s = statSync(p);
    return s.isFile() ? 'file' : s.isDirectory() ? 'dir' : s.isCharacterDevice() ? 'char' : 'other';
  } catch {
    return null;
  }
};

/** The still images the Node decoders read (the existing folder path). */
export const IMAGE_FILE = /\.(jpe?g|png)$/i;
const STREAM_SCHEMES = ['rtsp', 'rtsps', 'http', 'https'] as const;
const V4L2 = /^\/dev\/video(\d*)$/;

/** Is this the kind decoded by ffmpeg (so it needs ffmpeg on PATH)? */
export function needsFfmpeg(spec: SourceSpec): boolean {
  return spec.kind === 'video' || spec.kind === 'device' || spec.kind === 'stream';
}

/** A name for logs and reports; a URL's password is never shown. */
export function sourceName(spec: SourceSpec): string {
  if (spec.kind !== 'stream') return spec.path;
  const u = new URL(spec.url);
  if (u.password) u.password = '***';
  return u.toString();
}

/**
 * Parses a `--source` string: a video file (any file that is not a JPEG/PNG:
 * ffmpeg decides what it can read), a JPEG/PNG, a folder of images, a V4L2
 * device `/dev/videoN`, or an rtsp://, rtsps://, http:// or https:// URL (an
 * MJPEG camera is an http URL). Anything else is a SourceSpecError with one line.
 */
export function parseSourceSpec(text: string, stat: StatPath = statPath): SourceSpec {
  if (text.trim() === '') throw new SourceSpecError('source: empty; give a video file, an image folder, /dev/videoN or an rtsp/http(s) URL');
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\//.exec(text)?.[1]?.toLowerCase();
  if (scheme !== undefined) {
    if (scheme === 'file') throw new SourceSpecError(`source ${text}: file:// URLs are not taken; give the path itself`);
    if (!(STREAM_SCHEMES as readonly string[]).includes(scheme)) {
      throw new SourceSpecError(`source ${text}: unknown scheme '${scheme}://'; streams are ${STREAM_SCHEMES.map((s) => `${s}://`).join(', ')}`);
    }
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      throw new SourceSpecError(`source ${text}: not a valid URL`);
    }
    if (url.hostname === '') throw new SourceSpecError(`source ${text}: the URL has no host`);
    return { kind: 'stream', url: url.toString(), protocol: scheme as (typeof STREAM_SCHEMES)[number] };
  }
  const device = V4L2.exec(text);
  if (device) {
    if (device[1] === '') throw new SourceSpecError(`source ${text}: a V4L2 device needs its number, e.g. /dev/video0`);
    const kind = stat(text);
    if (kind === null) throw new SourceSpecError(`source ${text}: no such device (is the camera plugged in? ls /dev/video*)`);
    if (kind !== 'char') throw new SourceSpecError(`source ${text}: not a character device`);
    return { kind: 'device', path: text, index: Number(device[1]) };
  }
  const kind = stat(text);
  if (kind === null) throw new SourceSpecError(`source ${text}: no such file or folder`);
  if (kind === 'dir') return { kind: 'folder', path: text };
  if (kind === 'char' && text.startsWith('/dev/')) throw new SourceSpecError(`source ${text}: only V4L2 devices /dev/videoN are taken`);
  if (kind !== 'file') throw new SourceSpecError(`source ${text}: not a file, folder, /dev/videoN or URL`);
  return IMAGE_FILE.test(text) ? { kind: 'image', path: text } : { kind: 'video', path: text };
}
