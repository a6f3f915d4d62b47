// Extra calibration views from few images. Every training-free fit (channel
// substitution, refits, sensitivity) memorises a handful of images: a 20×20
// feature map gives 400 correlated rows per image. And a few photos show few
// object sizes: coco8's four training images give the stride-8 head (small
// objects) no confident anchor at all, so damage there goes unseen. Views
// drawn the way ultralytics trains YOLOv8 stay inside the distribution the
// model learned: random scale, translation ±10%, horizontal flip,
// saturation/value gain, and mosaics (2×2 tiles, here of one image, so that
// cross-validation can still leave whole images out).
import type { RgbImage } from './detect/image.js';
import { letterboxGeometry, PAD_VALUE } from './detect/letterbox.js';
import { mulberry32 } from './random.js';

export interface View {
  flip: boolean;
  /** Size relative to the plain letterbox (1 = letterbox scale). */
  scale: number;
  /** Shift of the image centre, as a fraction of the input size. */
  dx: number;
  dy: number;
  /** HSV-style gains: saturation (1 = unchanged) and value (brightness). */
  saturation: number;
  value: number;
}

export const IDENTITY_VIEW: View = { flip: false, scale: 1, dx: 0, dy: 0, saturation: 1, value: 1 };

/**
 * Ultralytics' default training ranges (translate 0.1, fliplr 0.5, hsv_s
 * 0.7, hsv_v 0.4), with the scale reaching down to 0.25 rather than 0.5 so
 * that large objects also show at the sizes small ones have.
 */
export function randomView(random: () => number): View {
  const between = (lo: number, hi: number) => lo + (hi - lo) * random();
  return { flip: random() < 0.5, scale: between(0.25, 1.5), dx: between(-0.1, 0.1), dy: between(-0.1, 0.1), saturation: between(0.3, 1.7), value: between(0.6, 1.4) };
}

/**
 * The [1,3,size,size] float input of `image` seen through `view`: the
 * letterbox placement scaled about the input centre, shifted, optionally
 * mirrored, sampled bilinearly (pixel centres) from the original, with
 * ultralytics' grey wherever the image does not reach.
 */
export function renderView(image: RgbImage, size: number, view: View): Float32Array {
  const { width: W, height: H, rgb } = image;
  const k = letterboxGeometry(W, H, size).scale * view.scale;
  const cx = size / 2 + view.dx * size;
  const cy = size / 2 + view.dy * size;
  const plane = size * size;
  const out = new Float32Array(3 * plane).fill(PAD_VALUE / 255);
  const pixel = new Float64Array(3);
  for (let y = 0; y < size; y++) {
    const sy = (y + 0.5 - cy) / k + H / 2 - 0.5;
    if (sy < -0.5 || sy > H - 0.5) continue;
    const y0 = Math.max(0, Math.floor(sy));
    const y1 = Math.min(H - 1, y0 + 1);
    const fy = Math.min(1, Math.max(0, sy - y0));
    for (let x = 0; x < size; x++) {
      let sx = (x + 0.5 - cx) / k + W / 2 - 0.5;
      if (sx < -0.5 || sx > W - 0.5) continue;
      if (view.flip) sx = W - 1 - sx;
      const x0 = Math.max(0, Math.floor(sx));
      const x1 = Math.min(W - 1, x0 + 1);
      const fx = Math.min(1, Math.max(0, sx - x0));
      const a = (y0 * W + x0) * 3, b = (y0 * W + x1) * 3, c = (y1 * W + x0) * 3, d = (y1 * W + x1) * 3;
      for (let ch = 0; ch < 3; ch++) {
        const top = rgb[a + ch] + (rgb[b + ch] - rgb[a + ch]) * fx;
        const bottom = rgb[c + ch] + (rgb[d + ch] - rgb[c + ch]) * fx;
        pixel[ch] = top + (bottom - top) * fy;
      }
      // saturation scales the distance from the pixel's grey, value scales all three
      const grey = 0.299 * pixel[0] + 0.587 * pixel[1] + 0.114 * pixel[2];
      for (let ch = 0; ch < 3; ch++) {
        const v = (grey + (pixel[ch] - grey) * view.saturation) * view.value;
        out[ch * plane + y * size + x] = Math.min(255, Math.max(0, v)) / 255;
      }
    }
  }
  return out;
}

/** One calibration input made from an image: one view, or a 2×2 mosaic of four. */
export type Composition = View | { mosaic: [View, View, View, View] };

/** The [1,3,size,size] input of a composition; mosaic tiles are size/2 views in reading order. */
export function renderComposition(image: RgbImage, size: number, c: Composition): Float32Array {
  if (!('mosaic' in c)) return renderView(image, size, c);
  const half = size >> 1;
  const out = new Float32Array(3 * size * size).fill(PAD_VALUE / 255);
  c.mosaic.forEach((view, t) => {
    const tile = renderView(image, half, view);
    const ox = (t % 2) * half, oy = (t >> 1) * half;
    for (let ch = 0; ch < 3; ch++) {
      for (let y = 0; y < half; y++) out.set(tile.subarray((ch * half + y) * half, (ch * half + y + 1) * half), ch * size * size + (oy + y) * size + ox);
    }
  });
  return out;
}

/**
 * `viewsPerImage` inputs from every image: the first is the image as
 * inference sees it, then single views and mosaics in turn (seeded, so a
 * recipe reproduces).
 */
export function viewsOf(images: number, viewsPerImage: number, seed = 1): Composition[][] {
  const random = mulberry32(seed);
  const next = (v: number): Composition => {
    if (v === 0) return IDENTITY_VIEW;
    if (v % 2 === 1) return randomView(random);
    return { mosaic: [randomView(random), randomView(random), randomView(random), randomView(random)] };
  };
  return Array.from({ length: images }, () => Array.from({ length: Math.max(1, viewsPerImage) }, (_, v) => next(v)));
}
