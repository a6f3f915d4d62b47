import { readFile } from 'node:fs/promises';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { codedError } from '../../protocol/errors.js';

/** A decoded 8-bit image, interleaved RGB, row-major. */
export interface RgbImage {
  width: number;
  height: number;
  rgb: Uint8Array;
}

/** Bad image input: not an image, truncated, unsupported, or too large. */
export class ImageError extends codedError('E_IMAGE') {
  override name = 'ImageError';
}

/** 40 MP: a 12 MP phone photo fits with room; a decompression bomb does not. */
export const DEFAULT_MAX_PIXELS = 40_000_000;

export interface DecodeOptions {
  maxPixels?: number;
  /** Names the source in error messages (usually the file path). */
  source?: string;
}

export type ImageFormat = 'jpeg' | 'png';

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** Identifies the format from magic bytes; the file extension is never trusted. */
export function sniffFormat(bytes: Uint8Array): ImageFormat | undefined {
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  if (bytes.length >= 8 && PNG_SIGNATURE.every((b, i) => bytes[i] === b)) return 'png';
  return undefined;
}

function otherFormatName(bytes: Uint8Array): string | undefined {
  const ascii = (from: number, n: number) => String.fromCharCode(...bytes.subarray(from, from + n));
  if (ascii(0, 3) === 'GIF') return 'GIF';
  if (ascii(0, 2) === 'BM') return 'BMP';
  if (ascii(0, 4) === 'RIFF' && ascii(8, 4) === 'WEBP') return 'WebP';
  if (ascii(0, 4) === 'II*\0' || ascii(0, 4) === 'MM\0*') return 'TIFF';
  if (ascii(4, 4) === 'ftyp') return 'HEIF/AVIF';
  return undefined;
}

function checkPixels(width: number, height: number, maxPixels: number, where: string): void {
  if (width <= 0 || height <= 0) throw new ImageError(`${where}: image has no pixels (${width}×${height})`);
  if (width * height > maxPixels) {
    throw new ImageError(`${where}: image is ${width}×${height} = ${width * height} pixels, over the limit of ${maxPixels}`);
  }
}

function decodeJpeg(bytes: Uint8Array, maxPixels: number, where: string): RgbImage {
  let decoded: { width: number; height: number; data: Uint8Array };
  try {
    decoded = jpeg.decode(bytes, {
      useTArray: true,
      formatAsRGBA: false,
      tolerantDecoding: false,
      maxResolutionInMP: maxPixels / 1e6,
      maxMemoryUsageInMB: Math.ceil((maxPixels * 4 * 2) / 2 ** 20) + 64,
    });
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    const hint = /marker was not found|unknown JPEG marker|out of range|undefined/i.test(msg) ? ' (truncated or corrupt file?)' : '';
    throw new ImageError(`${where}: cannot decode JPEG: ${msg}${hint}`);
  }
  checkPixels(decoded.width, decoded.height, maxPixels, where);
  if (decoded.data.length !== decoded.width * decoded.height * 3) {
    throw new ImageError(`${where}: JPEG decoded to ${decoded.data.length} bytes, expected ${decoded.width * decoded.height * 3}`);
  }
  return { width: decoded.width, height: decoded.height, rgb: decoded.data };
}

function decodePng(bytes: Uint8Array, maxPixels: number, where: string): RgbImage {
  // IHDR is always the first chunk: read the size before inflating anything.
  if (bytes.length < 24) throw new ImageError(`${where}: PNG is truncated (${bytes.length} bytes)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  checkPixels(view.getUint32(16), view.getUint32(20), maxPixels, where);
  let png: PNG;
  try {
    png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  } catch (err) {
    throw new ImageError(`${where}: cannot decode PNG: ${err instanceof Error ? err.message : String(err)}`);
  }
  // pngjs always yields 8-bit RGBA; alpha is dropped like cv2.imread(IMREAD_COLOR) does.
  const n = png.width * png.height;
  const rgb = new Uint8Array(n * 3);
  const rgba = png.data;
  for (let i = 0, j = 0; i < n; i++, j += 4) {
    rgb[i * 3] = rgba[j];
    rgb[i * 3 + 1] = rgba[j + 1];
    rgb[i * 3 + 2] = rgba[j + 2];
  }
  return { width: png.width, height: png.height, rgb };
}

/** Decodes JPEG or PNG bytes to RGB; anything else is an ImageError. */
export function decodeImage(bytes: Uint8Array, options: DecodeOptions = {}): RgbImage {
  const where = options.source ?? 'image';
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  if (bytes.length === 0) throw new ImageError(`${where}: empty file`);
  const format = sniffFormat(bytes);
  if (format === 'jpeg') return decodeJpeg(bytes, maxPixels, where);
  if (format === 'png') return decodePng(bytes, maxPixels, where);
  const other = otherFormatName(bytes);
  throw new ImageError(other ? `${where}: ${other} is not supported (use JPEG or PNG)` : `${where}: not a JPEG or PNG image`);
}

export async function readImage(file: string, options: Omit<DecodeOptions, 'source'> = {}): Promise<RgbImage> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (err) {
    throw new ImageError(`${file}: cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return decodeImage(bytes, { ...options, source: file });
}
