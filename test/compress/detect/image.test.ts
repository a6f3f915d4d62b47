import { describe, expect, it } from 'vitest';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { decodeImage, ImageError, readImage, sniffFormat } from '../../../compress/detect/image.js';

function gradient(width: number, height: number): Uint8Array {
  const rgba = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) rgba.set([x * 4, y * 4, 128, 255], (y * width + x) * 4);
  }
  return rgba;
}

function makeJpeg(width: number, height: number): Uint8Array {
  return jpeg.encode({ width, height, data: gradient(width, height) }, 95).data;
}

function makePng(width: number, height: number, alpha = 255): Uint8Array {
  const png = new PNG({ width, height });
  const data = gradient(width, height);
  for (let i = 3; i < data.length; i += 4) data[i] = alpha;
  png.data = Buffer.from(data);
  return PNG.sync.write(png);
}

describe('decodeImage', () => {
  it('decodes JPEG to RGB', () => {
    const img = decodeImage(makeJpeg(48, 32));
    expect([img.width, img.height, img.rgb.length]).toEqual([48, 32, 48 * 32 * 3]);
    // JPEG is lossy: the blue channel stays near 128
    expect(Math.abs(img.rgb[2] - 128)).toBeLessThan(6);
  });

  it('decodes PNG to RGB exactly and drops alpha', () => {
    const img = decodeImage(makePng(20, 10, 7));
    expect([img.width, img.height]).toEqual([20, 10]);
    const at = (x: number, y: number) => Array.from(img.rgb.subarray((y * 20 + x) * 3, (y * 20 + x) * 3 + 3));
    expect(at(3, 2)).toEqual([12, 8, 128]);
  });

  it('rejects garbage, empty and other formats with ImageError', () => {
    expect(() => decodeImage(new TextEncoder().encode('hello, not an image'))).toThrow(ImageError);
    expect(() => decodeImage(new Uint8Array(0))).toThrow(/empty/);
    expect(() => decodeImage(new TextEncoder().encode('GIF89a......'), { source: 'a.gif' })).toThrow(/a\.gif: GIF is not supported/);
    expect(sniffFormat(new Uint8Array([1, 2, 3]))).toBeUndefined();
  });

  it('rejects a truncated JPEG and a truncated PNG', () => {
    const j = makeJpeg(64, 64);
    expect(() => decodeImage(j.subarray(0, j.length >> 1), { source: 'cut.jpg' })).toThrow(/cut\.jpg: cannot decode JPEG.*truncated/);
    const p = makePng(64, 64);
    expect(() => decodeImage(p.subarray(0, 40))).toThrow(ImageError);
    expect(() => decodeImage(p.subarray(0, 12))).toThrow(/truncated/);
  });

  it('refuses images over the pixel limit before decoding them', () => {
    expect(() => decodeImage(makePng(100, 100), { maxPixels: 5000 })).toThrow(/10000 pixels, over the limit of 5000/);
    expect(() => decodeImage(makeJpeg(100, 100), { maxPixels: 5000 })).toThrow(ImageError);
  });

  it('readImage names the missing file', async () => {
    await expect(readImage('/nonexistent/x.jpg')).rejects.toThrow(/\/nonexistent\/x\.jpg: cannot read: ENOENT/);
  });
});
