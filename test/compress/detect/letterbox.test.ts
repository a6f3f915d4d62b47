import { describe, expect, it } from 'vitest';
import { letterbox, letterboxBox, letterboxGeometry, unletterboxBox, Letterboxer, PAD_VALUE } from '../../../compress/detect/letterbox.js';
import type { RgbImage } from '../../../compress/detect/image.js';

function solid(width: number, height: number, rgb: [number, number, number]): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) data.set(rgb, i * 3);
  return { width, height, rgb: data };
}

describe('letterboxGeometry (ultralytics LetterBox)', () => {
  it('landscape 1280×720 → 640: scale 0.5, 640×360, pad 140 above', () => {
    const t = letterboxGeometry(1280, 720, 640);
    expect(t).toMatchObject({ scale: 0.5, newWidth: 640, newHeight: 360, padX: 0, padY: 140 });
  });

  it('portrait 810×1080 (bus.jpg) → 640: 480×640, pad 80 left', () => {
    const t = letterboxGeometry(810, 1080, 640);
    expect(t).toMatchObject({ newWidth: 480, newHeight: 640, padX: 80, padY: 0 });
    expect(t.scale).toBeCloseTo(640 / 1080, 12);
  });

  it('an odd total pad puts the extra pixel at the bottom (round(dh - 0.1))', () => {
    // 640×425 → 640: r = 1, 425 high, 215 of pad: 107 on top, 108 below
    expect(letterboxGeometry(640, 425, 640)).toMatchObject({ newHeight: 425, padY: 107 });
    // 481×640 → 640: 159 of pad: 79 left, 80 right
    expect(letterboxGeometry(481, 640, 640)).toMatchObject({ newWidth: 481, padX: 79 });
  });

  it('scales small images up and rounds sizes half to even like Python', () => {
    const t = letterboxGeometry(100, 50, 320);
    expect(t).toMatchObject({ scale: 3.2, newWidth: 320, newHeight: 160, padY: 80 });
    // 5 × 0.5 = 2.5 → Python round gives 2
    expect(letterboxGeometry(5, 10, 5).newWidth).toBe(2);
  });

  it('rejects empty sizes', () => {
    expect(() => letterboxGeometry(0, 10, 640)).toThrow(/positive/);
  });
});

describe('letterbox tensor', () => {
  it('is NCHW RGB /255 with 114/255 padding', () => {
    const { tensor, transform } = letterbox(solid(64, 32, [255, 0, 51]), 64);
    const plane = 64 * 64;
    expect(tensor).toHaveLength(3 * plane);
    expect(transform.padY).toBe(16);
    const at = (c: number, y: number, x: number) => tensor[c * plane + y * 64 + x];
    expect(at(0, 0, 0)).toBeCloseTo(PAD_VALUE / 255, 6);
    expect(at(2, 63, 63)).toBeCloseTo(PAD_VALUE / 255, 6);
    expect(at(0, 16, 0)).toBe(1);
    expect(at(1, 30, 10)).toBe(0);
    expect(at(2, 47, 63)).toBeCloseTo(51 / 255, 6);
    expect(at(2, 48, 63)).toBeCloseTo(PAD_VALUE / 255, 6);
  });

  it('resizes bilinearly with half-pixel centres (cv2.INTER_LINEAR)', () => {
    // 4 px wide ramp 0,100,200,255 halved to 2 px: cv2 samples at x = 0.5 and 2.5 → 50 and 227.5 → 228
    const rgb = new Uint8Array([0, 100, 200, 255].flatMap((v) => [v, v, v]));
    const { tensor } = letterbox({ width: 4, height: 1, rgb }, 2, 1);
    expect(tensor[0] * 255).toBeCloseTo(50, 4);
    expect(tensor[1] * 255).toBeCloseTo(228, 4);
  });

  it('is bit-exact with cv2.resize INTER_LINEAR on uint8 (references from OpenCV 4.14)', () => {
    const rgb = Uint8Array.from({ length: 7 * 5 * 3 }, (_, i) => (i * 37 + 11) % 256);
    const bytes = (t: Float32Array) => Array.from(t, (v) => Math.round(v * 255));
    // cv2.resize(img, (14, 10))[:, :, 0] and cv2.resize(img, (4, 3))[:, :, 1]
    expect(bytes(letterbox({ width: 7, height: 5, rgb }, 14, 10).tensor.subarray(0, 140))).toEqual([11, 39, 94, 150, 205, 197, 124, 116, 171, 163, 90, 82, 137, 165, 13, 41, 96, 152, 207, 199, 126, 118, 173, 165, 92, 84, 139, 167, 18, 45, 101, 156, 212, 203, 131, 122, 178, 169, 97, 88, 144, 172, 22, 50, 105, 161, 216, 208, 135, 127, 182, 174, 101, 93, 148, 176, 27, 54, 110, 165, 221, 212, 140, 131, 187, 178, 106, 97, 153, 181, 31, 59, 114, 154, 177, 169, 128, 136, 191, 183, 110, 102, 157, 185, 36, 63, 119, 126, 86, 77, 101, 140, 196, 187, 115, 106, 162, 190, 40, 68, 123, 115, 42, 34, 89, 145, 200, 192, 119, 111, 166, 194, 45, 72, 128, 119, 47, 38, 94, 149, 205, 196, 124, 115, 171, 199, 47, 75, 130, 122, 49, 41, 96, 152, 207, 199, 126, 118, 173, 201]);
    expect(bytes(letterbox({ width: 7, height: 5, rgb }, 4, 3).tensor.subarray(12, 24))).toEqual([92, 31, 225, 163, 108, 46, 240, 178, 122, 61, 31, 193]);
  });

  it('an unscaled frame (640×480 into 640) is exactly byte/255 between the pads', () => {
    const rgb = Uint8Array.from({ length: 640 * 480 * 3 }, (_, i) => (i * 2654435761) >>> 24);
    const { tensor, transform } = letterbox({ width: 640, height: 480, rgb }, 640);
    expect(transform).toMatchObject({ scale: 1, padX: 0, padY: 80 });
    const plane = 640 * 640;
    for (const i of [0, 1, 639, 640 * 240 + 17, 640 * 480 - 1]) {
      for (let c = 0; c < 3; c++) expect(tensor[c * plane + 80 * 640 + i]).toBe(Math.fround(rgb[3 * i + c] / 255));
    }
  });

  it('downscaling, upscaling and unscaled frames all match a two-pass cv2 reference', () => {
    // cv2's structure spelled out: float32 source positions, 11-bit weights,
    // horizontal int sums per source row, then the int32 vertical mix.
    const taps = (src: number, dst: number) =>
      Array.from({ length: dst }, (_, d) => {
        let f = Math.fround((d + 0.5) * (1 / (dst / src)) - 0.5);
        let s = Math.floor(f);
        f = Math.fround(f - s);
        if (s < 0) [s, f] = [0, 0];
        if (s >= src - 1) [s, f] = [src - 1, 0];
        const round = (x: number) => (Math.abs(x % 1) === 0.5 ? 2 * Math.round(x / 2) : Math.round(x));
        return { s0: s, s1: Math.min(s + 1, src - 1), w0: round(Math.fround(1 - f) * 2048), w1: round(f * 2048) };
      });
    const lb = new Letterboxer(48, 40);
    for (const [w, h] of [[97, 61], [13, 9], [48, 30], [5, 40], [160, 7]]) {
      const rgb = Uint8Array.from({ length: w * h * 3 }, (_, i) => (i * 40503 + w) & 255);
      const { tensor, transform: t } = lb.run({ width: w, height: h, rgb });
      const xs = taps(w, t.newWidth);
      const ys = taps(h, t.newHeight);
      const hsum = (y: number, x: number, c: number) => rgb[(y * w + xs[x].s0) * 3 + c] * xs[x].w0 + rgb[(y * w + xs[x].s1) * 3 + c] * xs[x].w1;
      for (let y = 0; y < t.newHeight; y++) {
        for (let x = 0; x < t.newWidth; x++) {
          for (let c = 0; c < 3; c++) {
            const { s0, s1, w0, w1 } = ys[y];
            const v = ((((hsum(s0, x, c) >> 4) * w0) >> 16) + (((hsum(s1, x, c) >> 4) * w1) >> 16) + 2) >> 2;
            expect(tensor[c * 48 * 40 + (t.padY + y) * 48 + t.padX + x]).toBe(Math.fround(v / 255));
          }
        }
      }
    }
  });

  it('a reused Letterboxer gives the same result as a fresh one and repads between sizes', () => {
    const lb = new Letterboxer(32);
    lb.run(solid(32, 8, [10, 20, 30]));
    const second = lb.run(solid(8, 32, [200, 100, 0])).tensor.slice();
    expect(second).toEqual(letterbox(solid(8, 32, [200, 100, 0]), 32).tensor);
  });

  it('rejects a buffer that does not match the stated size', () => {
    expect(() => letterbox({ width: 10, height: 10, rgb: new Uint8Array(10) }, 32)).toThrow(/expected 300/);
  });
});

describe('box mapping', () => {
  it('round-trips original → input → original', () => {
    for (const [w, h] of [[1280, 720], [810, 1080], [381, 500]]) {
      const t = letterboxGeometry(w, h, 640);
      const box = [w * 0.1, h * 0.2, w * 0.7, h * 0.9];
      const back = unletterboxBox(letterboxBox(box, t), t);
      back.forEach((v, i) => expect(v).toBeCloseTo(box[i], 9));
    }
  });

  it('clips boxes that spill into the padding to the image', () => {
    const t = letterboxGeometry(1280, 720, 640);
    expect(unletterboxBox([-10, 100, 700, 600], t)).toEqual([0, 0, 1280, 720]);
  });
});
