import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { readImage, type RgbImage } from '../../compress/detect/image.js';
import { syntheticFrame } from '../../compress/detect/scene.js';

// The scene itself lives in compress/ so that the controller renders the same pixels (the on-device check's built-in frames).
export { syntheticFrame };

/**
 * Where serving and profiling get their frames. A folder of images and the
 * built-in scenes loop forever; a camera or video decoder plugs in by
 * implementing the same two methods.
 */
export interface FrameSource {
  /** Names the source in reports and logs. */
  readonly name: string;
  next(): Promise<RgbImage>;
  close(): Promise<void>;
  /** Let go of the device while a profile measures on it, and take it back after (SourceSlot: a V4L2 camera has one reader). */
  suspend?(): Promise<void>;
  resume?(): Promise<void>;
}

export const SYNTHETIC_FRAME = { width: 640, height: 480, count: 4 } as const;

/** The built-in scenes, 640×480 like a common camera mode, looped. */
export function syntheticFrames(count: number = SYNTHETIC_FRAME.count, width: number = SYNTHETIC_FRAME.width, height: number = SYNTHETIC_FRAME.height): FrameSource {
  const frames = Array.from({ length: count }, (_, i) => syntheticFrame(width, height, i + 1));
  let i = 0;
  return {
    name: `synthetic ${width}x${height}`,
    next: async () => frames[i++ % frames.length],
    close: async () => undefined,
  };
}

const IMAGE_EXT = /\.(jpe?g|png)$/i;

/** Every JPEG/PNG of a folder, decoded once and looped in name order. */
export async function folderFrames(dir: string): Promise<FrameSource> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => IMAGE_EXT.test(n)).sort();
  } catch (err) {
    throw new Error(`frames: cannot read folder ${dir}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  if (names.length === 0) throw new Error(`frames: no .jpg or .png images in ${dir}`);
  const frames = await Promise.all(names.map((n) => readImage(path.join(dir, n))));
  let i = 0;
  return {
    name: dir,
    next: async () => frames[i++ % frames.length],
    close: async () => undefined,
  };
}

/** A folder when given, else the built-in scenes. */
export function openFrames(dir: string | undefined): Promise<FrameSource> {
  return dir ? folderFrames(dir) : Promise.resolve(syntheticFrames());
}
