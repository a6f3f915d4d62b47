import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PNG } from 'pngjs';
import { IDENTITY_VIEW, renderComposition, renderView, viewsOf } from '../../compress/augment.js';
import { calibrationDigest, calibrationFold, CalibrationError, loadCalibration, viewsToFill } from '../../compress/calibration.js';
import type { RgbImage } from '../../compress/detect/image.js';
import { Letterboxer, PAD_VALUE } from '../../compress/detect/letterbox.js';

/** A 120×80 image: red rises left to right, green top to bottom, a white square near the left edge. */
function image(): RgbImage {
  const width = 120, height = 80;
  const rgb = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const white = x >= 10 && x < 30 && y >= 30 && y < 50;
      rgb.set(white ? [255, 255, 255] : [Math.round((x / width) * 255), Math.round((y / height) * 255), 60], (y * width + x) * 3);
    }
  }
  return { width, height, rgb };
}

const size = 64;
const pad = PAD_VALUE / 255;
const padShare = (t: Float32Array) => t.filter((v) => Math.abs(v - pad) < 1e-6).length / t.length;

describe('augmented calibration views', () => {
  it('renders the identity view where the letterbox puts the image (up to its sub-pixel rounding of the padding)', () => {
    const exact = new Letterboxer(size, size).run(image()).tensor;
    const view = renderView(image(), size, IDENTITY_VIEW);
    let sum = 0;
    for (let i = 0; i < view.length; i++) sum += Math.abs(view[i] - exact[i]);
    expect(sum / view.length).toBeLessThan(0.02);
    expect(padShare(view)).toBeCloseTo(padShare(exact), 1);
  });

  it('mirrors, scales about the centre and shifts as the view says', () => {
    const plain = renderView(image(), size, IDENTITY_VIEW);
    const flipped = renderView(image(), size, { ...IDENTITY_VIEW, flip: true });
    const plane = size * size;
    for (let c = 0; c < 3; c++) {
      for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) expect(flipped[c * plane + y * size + x]).toBeCloseTo(plain[c * plane + y * size + (size - 1 - x)], 5);
    }
    // half the size: a quarter of the area, the rest grey
    const half = renderView(image(), size, { ...IDENTITY_VIEW, scale: 0.5 });
    const covered = (t: Float32Array) => 1 - padShare(t);
    expect(covered(half) / covered(plain)).toBeCloseTo(0.25, 1);
    // shifted right by a quarter: the red ramp moves right, so a pixel left of centre gets redder... from further left
    const shifted = renderView(image(), size, { ...IDENTITY_VIEW, dx: 0.25 });
    const at = (t: Float32Array, x: number) => t[(size / 2) * size + x];
    expect(at(shifted, size / 2)).toBeLessThan(at(plain, size / 2));
  });

  it('turns saturation 0 into grey and scales brightness with value', () => {
    const grey = renderView(image(), size, { ...IDENTITY_VIEW, saturation: 0 });
    const plane = size * size;
    for (let i = 0; i < plane; i += 97) {
      expect(grey[i]).toBeCloseTo(grey[plane + i], 5);
      expect(grey[i]).toBeCloseTo(grey[2 * plane + i], 5);
    }
    const dim = renderView(image(), size, { ...IDENTITY_VIEW, value: 0.5, scale: 2 });
    const bright = renderView(image(), size, { ...IDENTITY_VIEW, scale: 2 });
    expect(dim[size * 20 + 20]).toBeCloseTo(bright[size * 20 + 20] * 0.5, 2);
  });

  it('tiles a mosaic from four half-size views in reading order', () => {
    const views = [IDENTITY_VIEW, { ...IDENTITY_VIEW, flip: true }, { ...IDENTITY_VIEW, scale: 0.5 }, { ...IDENTITY_VIEW, value: 0.5 }] as const;
    const mosaic = renderComposition(image(), size, { mosaic: [...views] });
    const half = size / 2;
    views.forEach((view, t) => {
      const tile = renderView(image(), half, view);
      const ox = (t % 2) * half, oy = Math.floor(t / 2) * half;
      for (let ch = 0; ch < 3; ch++) {
        for (let y = 0; y < half; y += 5) for (let x = 0; x < half; x += 3) expect(mosaic[ch * size * size + (oy + y) * size + ox + x]).toBe(tile[(ch * half + y) * half + x]);
      }
    });
    expect(renderComposition(image(), size, IDENTITY_VIEW)).toEqual(renderView(image(), size, IDENTITY_VIEW));
  });

  it('draws seeded views within ultralytics-like ranges, the first of each image untouched, mosaics among them', () => {
    const a = viewsOf(3, 5, 7);
    expect(viewsOf(3, 5, 7)).toEqual(a);
    expect(viewsOf(3, 5, 8)).not.toEqual(a);
    for (const views of a) {
      expect(views).toHaveLength(5);
      expect(views[0]).toEqual(IDENTITY_VIEW);
      expect(views.filter((v) => 'mosaic' in v)).toHaveLength(2);
      for (const v of views.slice(1).flatMap((c) => ('mosaic' in c ? c.mosaic : [c]))) {
        expect(v.scale).toBeGreaterThanOrEqual(0.25);
        expect(v.scale).toBeLessThanOrEqual(1.5);
        expect(Math.abs(v.dx)).toBeLessThanOrEqual(0.1);
        expect(v.saturation).toBeGreaterThanOrEqual(0.3);
        expect(v.value).toBeLessThanOrEqual(1.4);
      }
    }
    expect(viewsToFill(4, 16)).toBe(4);
    expect(viewsToFill(1, 16)).toBe(8);
    expect(viewsToFill(40, 16)).toBe(1);
  });

  it('loads a folder with views per image, each remembering its source image as its fold', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'edgefit-views-'));
    for (const k of [0, 1]) {
      const png = new PNG({ width: 50, height: 40 });
      png.data.fill(40 + 100 * k);
      writeFileSync(path.join(dir, `img${k}.png`), PNG.sync.write(png));
    }
    const set = await loadCalibration(dir, 32, { minInputs: 6 });
    expect(set.files).toHaveLength(2);
    expect(set.inputs).toHaveLength(6);
    expect(set.inputs.map((_, i) => calibrationFold(set, i))).toEqual([0, 0, 0, 1, 1, 1]);
    expect(set.inputs[0]).toEqual(Float32Array.from(new Letterboxer(32, 32).run({ width: 50, height: 40, rgb: new Uint8Array(50 * 40 * 3).fill(40) }).tensor));
    expect((await loadCalibration(dir, 32, { viewsPerImage: 2, minInputs: 100 })).inputs).toHaveLength(4);
    // caches keyed by the digest notice other views of the same files
    expect(calibrationDigest(await loadCalibration(dir, 32, { minInputs: 6 }))).toBe(calibrationDigest(set));
    expect(calibrationDigest(await loadCalibration(dir, 32, { minInputs: 6, seed: 2 }))).not.toBe(calibrationDigest(set));
    expect(calibrationFold({ files: ['a', 'b'], inputs: [], size: 32 }, 1)).toBe(1);
    await expect(loadCalibration(mkdtempSync(path.join(tmpdir(), 'edgefit-empty-')), 32, { minInputs: 16 })).rejects.toThrow(CalibrationError);
  });
});
