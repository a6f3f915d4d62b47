import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { readImage, type RgbImage } from '../../compress/detect/image.js';
import { mulberry32 } from '../../compress/random.js';

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
}

/**
 * A street-like scene: sky-to-ground gradient, a few solid boxes and discs,
 * pixel noise. Not a photograph, but its size and content make letterbox and
 * NMS cost what they cost on a camera frame of the same size.
 */
export function syntheticFrame(width: number, height: number, seed: number): RgbImage {
  const rand = mulberry32(seed);
  const rgb = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    const sky = y < height * 0.55;
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      const noise = (rand() - 0.5) * 16;
      rgb[i] = sky ? 120 + (y * 80) / height + noise : 90 + noise;
      rgb[i + 1] = sky ? 160 + (y * 60) / height + noise : 85 + noise;
      rgb[i + 2] = sky ? 220 - (y * 40) / height + noise : 80 + noise;
    }
  }
  const shapes = 6 + Math.floor(rand() * 6);
  for (let s = 0; s < shapes; s++) {
    const color = [rand() * 255, rand() * 255, rand() * 255];
    const cx = rand() * width;
    const cy = height * (0.3 + rand() * 0.6);
    const w = width * (0.05 + rand() * 0.25);
    const h = height * (0.08 + rand() * 0.35);
    const disc = rand() < 0.4;
    for (let y = Math.max(0, Math.floor(cy - h / 2)); y < Math.min(height, cy + h / 2); y++) {
      for (let x = Math.max(0, Math.floor(cx - w / 2)); x < Math.min(width, cx + w / 2); x++) {
        if (disc && ((x - cx) / (w / 2)) ** 2 + ((y - cy) / (h / 2)) ** 2 > 1) continue;
        const i = (y * width + x) * 3;
        rgb[i] = color[0];
        rgb[i + 1] = color[1];
        rgb[i + 2] = color[2];
      }
    }
  }
  return { width, height, rgb };
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
