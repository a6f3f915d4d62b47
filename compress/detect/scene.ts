import { mulberry32 } from '../random.js';
import type { RgbImage } from './image.js';

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
