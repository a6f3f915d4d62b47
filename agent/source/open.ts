import type { Backoff } from './backoff.js';
import { ffmpegInfo, ffmpegRelease, findOnPath } from './ffmpeg.js';
import { needsFfmpeg, parseSourceSpec, sourceName, type SourceSpec } from './spec.js';
import { openStills } from './still-source.js';
import { ThreadedSource } from './threaded-source.js';
import type { SourceEvent, StatsSource } from './types.js';

export interface OpenSourceOptions {
  /** The model input size: ffmpeg letterboxes to it. */
  width: number;
  height: number;
  /**
   * 'latest' (default): latest frame wins, a video file plays at its own
   * frame rate like a camera. 'every': no frame dropped, a file decodes as
   * fast as it is consumed (what `edgefit detect` uses on files). A live
   * source is always 'latest'.
   */
  pace?: 'latest' | 'every';
  /** Files and folders start over at their end (default true: serving runs until stopped). */
  loop?: boolean;
  backoff?: Backoff;
  stallMs?: number;
  onEvent?: (e: SourceEvent) => void;
  /** Where ffmpeg and ffprobe are looked for (default $PATH). */
  searchPath?: string;
}

/**
 * Opens a `--source` (a string as the user typed it, or a parsed spec) as
 * frames for the detector: JPEG/PNG files and folders decode in Node; video
 * files, V4L2 devices and streams decode in an ffmpeg child that letterboxes
 * to width×height. Rejects with one line: a bad spec, ffmpeg missing for a
 * source that needs it, a video file ffmpeg cannot read. A live source that
 * is down at the start is not an error: it keeps retrying (see stats()).
 */
export async function openSource(source: string | SourceSpec, o: OpenSourceOptions): Promise<StatsSource> {
  const spec = typeof source === 'string' ? parseSourceSpec(source) : source;
  const loop = o.loop ?? true;
  if (!needsFfmpeg(spec)) return openStills(spec as Extract<SourceSpec, { kind: 'image' | 'folder' }>, loop);
  const ffmpeg = findOnPath('ffmpeg', o.searchPath);
  const ffprobe = findOnPath('ffprobe', o.searchPath);
  if (ffmpeg === null || ffprobe === null) {
    throw new Error(`source ${sourceName(spec)}: a ${spec.kind} source is decoded by ffmpeg, and ${ffmpeg === null ? 'ffmpeg' : 'ffprobe'} is not on PATH (Debian: apt install ffmpeg); JPEG/PNG files and folders work without it`);
  }
  const live = spec.kind !== 'video';
  const info = await ffmpegInfo(o.searchPath);
  if (info === null) throw new Error(`source ${sourceName(spec)}: ${ffmpeg} -version does not answer; is the ffmpeg install broken?`);
  return ThreadedSource.open(
    {
      spec: spec as Exclude<SourceSpec, { kind: 'image' | 'folder' }>,
      options: {
        width: o.width,
        height: o.height,
        ffmpeg,
        ffprobe,
        release: ffmpegRelease(info.version),
        pace: live ? 'latest' : (o.pace ?? 'latest'),
        loop,
        backoff: o.backoff,
        stallMs: o.stallMs,
      },
    },
    o.onEvent,
  );
}
