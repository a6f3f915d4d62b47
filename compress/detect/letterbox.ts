import type { RgbImage } from './image.js';

/** How an original image sits inside the model input: input = original·scale + pad. */
export interface LetterboxTransform {
  /** Model input size. */
  inputWidth: number;
  inputHeight: number;
  /** Original image size. */
  srcWidth: number;
  srcHeight: number;
  /** Resized image size inside the padding. */
  newWidth: number;
  newHeight: number;
  scale: number;
  padX: number;
  padY: number;
}

/**
 * A frame already letterboxed to the model input (by ffmpeg's filter graph,
 * say): width×height is the input size, `letterbox` maps boxes back to the
 * pixels of the frame it came from. Letterboxer.run only converts it.
 */
export interface LetterboxedImage extends RgbImage {
  letterbox: LetterboxTransform;
}

/** Ultralytics' grey: the padding value before /255. */
export const PAD_VALUE = 114;

/** Python 3 round(): half to even. Ultralytics sizes go through it. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** The ultralytics LetterBox geometry (auto=False, scaleup=True, center=True). */
export function letterboxGeometry(srcWidth: number, srcHeight: number, inputWidth: number, inputHeight = inputWidth): LetterboxTransform {
  if (!(srcWidth > 0 && srcHeight > 0 && inputWidth > 0 && inputHeight > 0)) {
    throw new RangeError(`letterbox: sizes must be positive, got ${srcWidth}×${srcHeight} → ${inputWidth}×${inputHeight}`);
  }
  const scale = Math.min(inputHeight / srcHeight, inputWidth / srcWidth);
  const newWidth = Math.min(inputWidth, Math.max(1, roundHalfEven(srcWidth * scale)));
  const newHeight = Math.min(inputHeight, Math.max(1, roundHalfEven(srcHeight * scale)));
  const dw = (inputWidth - newWidth) / 2;
  const dh = (inputHeight - newHeight) / 2;
  // round(d - 0.1): an odd total pad puts the extra pixel at the bottom/right.
  return { inputWidth, inputHeight, srcWidth, srcHeight, newWidth, newHeight, scale, padX: Math.max(0, Math.round(dw - 0.1)), padY: Math.max(0, Math.round(dh - 0.1)) };
}

/** Maps a box [x1,y1,x2,y2] from model-input pixels to original-image pixels, clipped to the image. */
export function unletterboxBox(box: readonly number[], t: LetterboxTransform): [number, number, number, number] {
  const clip = (v: number, max: number) => (v < 0 ? 0 : v > max ? max : v);
  return [
    clip((box[0] - t.padX) / t.scale, t.srcWidth),
    clip((box[1] - t.padY) / t.scale, t.srcHeight),
    clip((box[2] - t.padX) / t.scale, t.srcWidth),
    clip((box[3] - t.padY) / t.scale, t.srcHeight),
  ];
}

/** Maps a box from original-image pixels into model-input pixels (the forward transform). */
export function letterboxBox(box: readonly number[], t: LetterboxTransform): [number, number, number, number] {
  return [box[0] * t.scale + t.padX, box[1] * t.scale + t.padY, box[2] * t.scale + t.padX, box[3] * t.scale + t.padY];
}

/**
 * Source taps for one axis of cv2.INTER_LINEAR on uint8: half-pixel centres,
 * src = (dst + 0.5)·(srcLen/dstLen) − 0.5 in float32, clamped at both edges,
 * weights in 11-bit fixed point (INTER_RESIZE_COEF_SCALE = 2048) rounded half
 * to even like cvRound. Interleaved per destination index d as
 * [4d] first source offset, [4d+1] second source offset, [4d+2] its weight,
 * [4d+3] the second's weight, so the inner loop reads one cache line.
 */
type AxisTaps = Int32Array;

const COEF_SCALE = 2048;

function cvRound(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

function axisTaps(srcLen: number, dstLen: number, stride: number): AxisTaps {
  const taps = new Int32Array(4 * dstLen);
  const scale = 1 / (dstLen / srcLen);
  for (let d = 0; d < dstLen; d++) {
    let f = Math.fround((d + 0.5) * scale - 0.5);
    let s = Math.floor(f);
    f = Math.fround(f - s);
    if (s < 0) {
      s = 0;
      f = 0;
    }
    if (s >= srcLen - 1) {
      s = srcLen - 1;
      f = 0;
    }
    taps[4 * d] = s * stride;
    taps[4 * d + 1] = Math.min(s + 1, srcLen - 1) * stride;
    taps[4 * d + 2] = cvRound(Math.fround(1 - f) * COEF_SCALE);
    taps[4 * d + 3] = cvRound(f * COEF_SCALE);
  }
  return taps;
}

/**
 * byte·(1/255) in double rounds to the same float32 as byte/255 for all 256
 * bytes (checked exhaustively), so a multiply replaces the division.
 */
const INV_255 = 1 / 255;

/**
 * cv2's vertical pass for uint8 (VResizeLinearVec_32s8u): horizontal sums h0,
 * h1 (scaled by 2048) and row weights b0, b1 → byte, all in int32. The two
 * weights of a tap sum to 2048, so the result never leaves 0..255 and needs no
 * clamp. cv2 rounds the last (3·width mod vector-width) bytes of a row with its
 * scalar formula instead; using the vector one everywhere differs there by ≤ 1
 * level.
 */
function vmix(h0: number, h1: number, b0: number, b1: number): number {
  return ((Math.imul(h0 >> 4, b0) >> 16) + (Math.imul(h1 >> 4, b1) >> 16) + 2) >> 2;
}

/** Writes 114/255 into the border around the resized image, in all three planes. */
function fillPadding(out: Float32Array, t: LetterboxTransform): void {
  const W = t.inputWidth;
  const plane = W * t.inputHeight;
  const pad = PAD_VALUE / 255;
  const right = t.padX + t.newWidth;
  const bottom = t.padY + t.newHeight;
  for (let ch = 0; ch < 3; ch++) {
    const base = ch * plane;
    out.fill(pad, base, base + t.padY * W);
    out.fill(pad, base + bottom * W, base + plane);
    if (t.padX > 0 || right < W) {
      for (let y = t.padY; y < bottom; y++) {
        out.fill(pad, base + y * W, base + y * W + t.padX);
        out.fill(pad, base + y * W + right, base + (y + 1) * W);
      }
    }
  }
}

/** Everything a frame size needs, built once per size. */
interface ResizePlan {
  key: string;
  t: LetterboxTransform;
  xs: AxisTaps;
  ys: AxisTaps;
  /** Horizontal sums of two source rows (interleaved RGB), for upscaling. */
  rowA: Int32Array;
  rowB: Int32Array;
}

/** The NCHW output tensor and the size of one channel plane in it. */
type Sink = { out: Float32Array; plane: number };

/** Unscaled (e.g. a 640×480 frame into 640): the taps reduce to the byte itself, as cv2's copy gives. */
function copyUnscaled(rgb: Uint8Array, p: ResizePlan, { out, plane }: Sink, W: number): void {
  const { newWidth: nw, newHeight: nh, padX, padY } = p.t;
  const plane2 = 2 * plane;
  for (let y = 0, s = 0; y < nh; y++) {
    for (let o = (padY + y) * W + padX, end = o + nw; o < end; o++, s += 3) {
      out[o] = rgb[s] * INV_255;
      out[o + plane] = rgb[s + 1] * INV_255;
      out[o + plane2] = rgb[s + 2] * INV_255;
    }
  }
}

/**
 * Downscaling rarely lets two output rows share a source row, so horizontal
 * and vertical passes are fused per pixel, all three channels at once.
 */
function resizeFused(rgb: Uint8Array, p: ResizePlan, { out, plane }: Sink, W: number): void {
  const { xs, ys, t } = p;
  const plane2 = 2 * plane;
  const rowEnd = 4 * t.newWidth;
  for (let dy = 0; dy < t.newHeight; dy++) {
    const r0 = ys[4 * dy];
    const r1 = ys[4 * dy + 1];
    const b0 = ys[4 * dy + 2];
    const b1 = ys[4 * dy + 3];
    let o = (t.padY + dy) * W + t.padX;
    for (let k = 0; k < rowEnd; k += 4, o++) {
      const x0 = xs[k];
      const x1 = xs[k + 1];
      const a0 = xs[k + 2];
      const a1 = xs[k + 3];
      const p0 = r0 + x0;
      const q0 = r0 + x1;
      const p1 = r1 + x0;
      const q1 = r1 + x1;
      out[o] = vmix(Math.imul(rgb[p0], a0) + Math.imul(rgb[q0], a1), Math.imul(rgb[p1], a0) + Math.imul(rgb[q1], a1), b0, b1) * INV_255;
      out[o + plane] = vmix(Math.imul(rgb[p0 + 1], a0) + Math.imul(rgb[q0 + 1], a1), Math.imul(rgb[p1 + 1], a0) + Math.imul(rgb[q1 + 1], a1), b0, b1) * INV_255;
      out[o + plane2] = vmix(Math.imul(rgb[p0 + 2], a0) + Math.imul(rgb[q0 + 2], a1), Math.imul(rgb[p1 + 2], a0) + Math.imul(rgb[q1 + 2], a1), b0, b1) * INV_255;
    }
  }
}

/** cv2's horizontal pass over one source row (offset `row`) into int32 sums, RGB interleaved. */
function resizeRow(rgb: Uint8Array, row: number, xs: AxisTaps, into: Int32Array): void {
  for (let k = 0, j = 0; j < into.length; k += 4, j += 3) {
    const p = row + xs[k];
    const q = row + xs[k + 1];
    const a0 = xs[k + 2];
    const a1 = xs[k + 3];
    into[j] = Math.imul(rgb[p], a0) + Math.imul(rgb[q], a1);
    into[j + 1] = Math.imul(rgb[p + 1], a0) + Math.imul(rgb[q + 1], a1);
    into[j + 2] = Math.imul(rgb[p + 2], a0) + Math.imul(rgb[q + 2], a1);
  }
}

/**
 * Upscaling: consecutive output rows share source rows, so, as cv2 does, each
 * source row is resized horizontally once into a cached int32 row and output
 * rows only mix two cached rows.
 */
function resizeRowCached(rgb: Uint8Array, p: ResizePlan, { out, plane }: Sink, W: number): void {
  const { xs, ys, t } = p;
  const plane2 = 2 * plane;
  let upper = p.rowA;
  let lower = p.rowB;
  let upperRow = -1;
  let lowerRow = -1;
  for (let dy = 0; dy < t.newHeight; dy++) {
    const r0 = ys[4 * dy];
    const r1 = ys[4 * dy + 1];
    const b0 = ys[4 * dy + 2];
    const b1 = ys[4 * dy + 3];
    if (r0 !== upperRow) {
      if (r0 === lowerRow) {
        const swap = upper;
        upper = lower;
        lower = swap;
        lowerRow = -1;
      } else {
        resizeRow(rgb, r0, xs, upper);
      }
      upperRow = r0;
    }
    if (r1 !== lowerRow) {
      if (r1 === upperRow) lower.set(upper);
      else resizeRow(rgb, r1, xs, lower);
      lowerRow = r1;
    }
    let o = (t.padY + dy) * W + t.padX;
    for (let j = 0; j < upper.length; j += 3, o++) {
      out[o] = vmix(upper[j], lower[j], b0, b1) * INV_255;
      out[o + plane] = vmix(upper[j + 1], lower[j + 1], b0, b1) * INV_255;
      out[o + plane2] = vmix(upper[j + 2], lower[j + 2], b0, b1) * INV_255;
    }
  }
}

/**
 * Reusable letterboxer: keeps its resize tables and output tensor between
 * calls, so a camera stream of same-sized frames allocates nothing per frame.
 * The returned tensor is overwritten by the next call.
 */
export class Letterboxer {
  readonly inputWidth: number;
  readonly inputHeight: number;
  private readonly tensor: Float32Array;
  private plan?: ResizePlan;

  constructor(inputWidth: number, inputHeight = inputWidth) {
    this.inputWidth = inputWidth;
    this.inputHeight = inputHeight;
    this.tensor = new Float32Array(3 * inputWidth * inputHeight);
  }

  /** NCHW float32 RGB in [0,1], padded with 114/255, plus the transform back. */
  run(image: RgbImage): { tensor: Float32Array; transform: LetterboxTransform } {
    const { width, height, rgb } = image;
    if (rgb.length !== width * height * 3) {
      throw new RangeError(`letterbox: image buffer has ${rgb.length} bytes, expected ${width * height * 3} for ${width}×${height} RGB`);
    }
    const pre = (image as Partial<LetterboxedImage>).letterbox;
    if (pre !== undefined) return { tensor: this.convert(image, pre), transform: pre };
    const key = `${width}x${height}`;
    if (this.plan?.key !== key) {
      const t = letterboxGeometry(width, height, this.inputWidth, this.inputHeight);
      const rowLength = 3 * t.newWidth;
      this.plan = { key, t, xs: axisTaps(width, t.newWidth, 3), ys: axisTaps(height, t.newHeight, width * 3), rowA: new Int32Array(rowLength), rowB: new Int32Array(rowLength) };
    }
    const plan = this.plan;
    const { t } = plan;
    const sink = { out: this.tensor, plane: this.inputWidth * this.inputHeight };
    fillPadding(this.tensor, t);
    if (t.newWidth === width && t.newHeight === height) copyUnscaled(rgb, plan, sink, this.inputWidth);
    else if (t.newHeight > height) resizeRowCached(rgb, plan, sink, this.inputWidth);
    else resizeFused(rgb, plan, sink, this.inputWidth);
    return { tensor: this.tensor, transform: t };
  }

  /** A pre-letterboxed frame: interleaved bytes to NCHW floats, no resize, no pad. */
  private convert({ width, height, rgb }: RgbImage, t: LetterboxTransform): Float32Array {
    if (width !== this.inputWidth || height !== this.inputHeight || t.inputWidth !== width || t.inputHeight !== height) {
      throw new RangeError(`letterbox: a pre-letterboxed ${width}×${height} frame (for ${t.inputWidth}×${t.inputHeight}) does not fit the ${this.inputWidth}×${this.inputHeight} input`);
    }
    const out = this.tensor;
    const plane = width * height;
    for (let o = 0, s = 0; o < plane; o++, s += 3) {
      out[o] = rgb[s] * INV_255;
      out[o + plane] = rgb[s + 1] * INV_255;
      out[o + 2 * plane] = rgb[s + 2] * INV_255;
    }
    return out;
  }
}

/** One-off letterbox into a fresh tensor (use a Letterboxer for streams). */
export function letterbox(image: RgbImage, inputWidth: number, inputHeight = inputWidth): { tensor: Float32Array; transform: LetterboxTransform } {
  return new Letterboxer(inputWidth, inputHeight).run(image);
}
