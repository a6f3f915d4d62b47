import type { RgbImage } from '../../compress/detect/image.js';
import type { LetterboxedImage } from '../../compress/detect/letterbox.js';
import { openFrames } from '../serve/frames.js';
import { openSource, sourceName, type SourceSpec, type StatsSource } from '../source/index.js';

/** A profile waits this long for a frame from its source before it fails (a camera that is down). */
const FRAME_TIMEOUT_MS = 20_000;

export interface E2eFrames {
  /** Names the source in the report (a URL without its password). */
  readonly name: string;
  /** The first frame: the warm-up and model-only input. */
  readonly first: RgbImage;
  /** The size of the picture as the source delivers it (before any letterbox). */
  readonly size: { width: number; height: number };
  /** The end-to-end phase's frame: the source's next (decode + letterbox in ffmpeg), or the first again for the built-in scenes and a folder without a source. */
  next(): Promise<RgbImage>;
  close(): Promise<void>;
}

function withTimeout<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no frame in ${FRAME_TIMEOUT_MS / 1000} s`)), FRAME_TIMEOUT_MS)));
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/**
 * Frames for a profile at the model's input size. With a source (the agent's
 * --source) every end-to-end frame is a new one from it: a video file decoded
 * as fast as it is consumed and looped (the profile measures the device, not
 * the clip's frame rate), a camera or stream latest-frame-wins. Without one,
 * the folder's first image or a built-in scene, repeated, as before. The
 * decoder's thread lives in the profiling process, so its few MiB count in
 * the process' memory; the ffmpeg child is a process of its own and does not.
 */
export async function openE2eFrames(input: { source?: SourceSpec; framesDir?: string }, model: { width: number; height: number }): Promise<E2eFrames> {
  if (!input.source) {
    const frames = await openFrames(input.framesDir);
    const first = await frames.next();
    return { name: frames.name, first, size: { width: first.width, height: first.height }, next: async () => first, close: () => frames.close() };
  }
  const name = sourceName(input.source);
  const source: StatsSource = await openSource(input.source, { ...model, pace: 'every', loop: true });
  try {
    const first = await withTimeout(source.next(), name);
    const lb = (first as Partial<LetterboxedImage>).letterbox;
    return {
      name,
      first,
      size: { width: lb?.srcWidth ?? first.width, height: lb?.srcHeight ?? first.height },
      next: () => withTimeout(source.next(), name),
      close: () => source.close(),
    };
  } catch (err) {
    await source.close();
    throw err;
  }
}
