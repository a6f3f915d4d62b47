import jpeg from 'jpeg-js';
import { GLYPH_HEIGHT, GLYPH_WIDTH, glyph, glyphPixel, textWidth } from './font5x7.js';
import type { RgbImage } from './image.js';
import type { LetterboxedImage } from './letterbox.js';

// Pure drawing for the agent's annotated snapshot: box outlines and class
// labels on a copy of a frame, then a JPEG held under a byte cap.

export interface AnnotatedBox {
  /** x1, y1, x2, y2 in the image's pixels. */
  box: readonly [number, number, number, number];
  classId: number;
  /** Drawn in a tag on the box's top edge; empty: no tag. */
  label: string;
}

export interface DrawOptions {
  /** Outline width in pixels; default max(2, round(min(w, h) / 320)). */
  thickness?: number;
  /** Glyph scale (a 5×7 glyph becomes 5s×7s); default max(1, round(min(w, h) / 300)): 2 on a 640×540 snapshot. */
  textScale?: number;
}

/** Ultralytics' palette (its Colors class), by class id modulo its length. */
const PALETTE = ['FF3838', 'FF9D97', 'FF701F', 'FFB21D', 'CFD231', '48F90A', '92CC17', '3DDB86', '1A9334', '00D4BB', '2C99A8', '00C2FF', '344593', '6473FF', '0018EC', '8438FF', '520085', 'CB38FF', 'FF95C8', 'FF37C7'].map(
  (hex) => [parseInt(hex.slice(0, 2), 16), parseInt(hex.slice(2, 4), 16), parseInt(hex.slice(4, 6), 16)] as const,
);

export function classColor(classId: number): readonly [number, number, number] {
  return PALETTE[((classId % PALETTE.length) + PALETTE.length) % PALETTE.length];
}

/** The pixel columns (or rows) a box edge pair covers: [floor(a), ceil(b)) clipped to [0, size). */
export function boxSpan(a: number, b: number, size: number): [number, number] {
  return [Math.max(0, Math.floor(a)), Math.min(size, Math.ceil(b))];
}

function fill(img: RgbImage, x0: number, y0: number, x1: number, y1: number, c: readonly [number, number, number]): void {
  const xa = Math.max(0, x0), xb = Math.min(img.width, x1), ya = Math.max(0, y0), yb = Math.min(img.height, y1);
  for (let y = ya; y < yb; y++) {
    for (let x = xa; x < xb; x++) {
      const i = (y * img.width + x) * 3;
      img.rgb[i] = c[0];
      img.rgb[i + 1] = c[1];
      img.rgb[i + 2] = c[2];
    }
  }
}

/** White or black text, whichever reads on the label's colour (ITU-R BT.601 luma). */
function textColor(c: readonly [number, number, number]): [number, number, number] {
  return 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2] > 150 ? [0, 0, 0] : [255, 255, 255];
}

/**
 * A copy of the image with each box's outline (`thickness` pixels inside its
 * span, see boxSpan) and a label: a filled tag of the box's colour with
 * the text scale in pixels of padding around the text, sitting
 * on the box's top edge (inside the box when there is no room above).
 */
export function drawDetections(image: RgbImage, boxes: readonly AnnotatedBox[], options: DrawOptions = {}): RgbImage {
  const out: RgbImage = { width: image.width, height: image.height, rgb: Uint8Array.from(image.rgb) };
  const short = Math.min(image.width, image.height);
  const t = options.thickness ?? Math.max(2, Math.round(short / 320));
  const s = options.textScale ?? Math.max(1, Math.round(short / 300));
  for (const b of boxes) {
    const c = classColor(b.classId);
    const [x0, x1] = boxSpan(b.box[0], b.box[2], out.width);
    const [y0, y1] = boxSpan(b.box[1], b.box[3], out.height);
    if (x1 <= x0 || y1 <= y0) continue;
    fill(out, x0, y0, x1, Math.min(y1, y0 + t), c);
    fill(out, x0, Math.max(y0, y1 - t), x1, y1, c);
    fill(out, x0, y0, Math.min(x1, x0 + t), y1, c);
    fill(out, Math.max(x0, x1 - t), y0, x1, y1, c);
    if (b.label) drawLabel(out, b.label, x0, y0, s, c);
  }
  return out;
}

/** The label's tag: text at scale s with s pixels of padding; above y0 when it fits, else below. */
export function labelRect(text: string, x0: number, y0: number, s: number): { x: number; y: number; width: number; height: number } {
  const width = textWidth(text, s) + 2 * s;
  const height = GLYPH_HEIGHT * s + 2 * s;
  return { x: x0, y: y0 >= height ? y0 - height : y0, width, height };
}

function drawLabel(img: RgbImage, text: string, x0: number, y0: number, s: number, c: readonly [number, number, number]): void {
  const r = labelRect(text, x0, y0, s);
  fill(img, r.x, r.y, r.x + r.width, r.y + r.height, c);
  const ink = textColor(c);
  let x = r.x + s;
  for (const ch of text) {
    const rows = glyph(ch);
    for (let row = 0; row < GLYPH_HEIGHT; row++) {
      for (let col = 0; col < GLYPH_WIDTH; col++) {
        if (glyphPixel(rows, col, row)) fill(img, x + col * s, r.y + s + row * s, x + (col + 1) * s, r.y + s + (row + 1) * s, ink);
      }
    }
    x += (GLYPH_WIDTH + 1) * s;
  }
}

/**
 * The part of a served frame that shows the scene: a pre-letterboxed frame
 * (ffmpeg's, at the model's input size) without its padding, with the scale
 * from source pixels to its own; any other frame as it is (scale 1).
 */
export function sceneOf(frame: RgbImage | LetterboxedImage): { image: RgbImage; scale: number } {
  const t = (frame as Partial<LetterboxedImage>).letterbox;
  if (!t) return { image: frame, scale: 1 };
  const w = Math.min(t.newWidth, frame.width - t.padX);
  const h = Math.min(t.newHeight, frame.height - t.padY);
  const rgb = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) rgb.set(frame.rgb.subarray(((t.padY + y) * frame.width + t.padX) * 3, ((t.padY + y) * frame.width + t.padX + w) * 3), y * w * 3);
  return { image: { width: w, height: h, rgb }, scale: t.scale };
}

/** Half the size, each pixel the mean of a 2×2 block (odd edges dropped). */
export function halve(img: RgbImage): RgbImage {
  const w = Math.max(1, img.width >> 1), h = Math.max(1, img.height >> 1);
  const rgb = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let k = 0; k < 3; k++) {
        const a = ((2 * y) * img.width + 2 * x) * 3 + k;
        const b = a + img.width * 3;
        rgb[(y * w + x) * 3 + k] = (img.rgb[a] + img.rgb[a + 3] + img.rgb[b] + img.rgb[b + 3] + 2) >> 2;
      }
    }
  }
  return { width: w, height: h, rgb };
}

export function encodeJpeg(img: RgbImage, quality: number): Buffer {
  const rgba = new Uint8Array(img.width * img.height * 4);
  for (let i = 0, j = 0; i < img.rgb.length; i += 3, j += 4) {
    rgba[j] = img.rgb[i];
    rgba[j + 1] = img.rgb[i + 1];
    rgba[j + 2] = img.rgb[i + 2];
    rgba[j + 3] = 255;
  }
  return jpeg.encode({ data: rgba, width: img.width, height: img.height }, quality).data;
}

/** Qualities tried in turn at each size before the image is halved. */
export const JPEG_QUALITIES = [80, 60, 40, 25] as const;

/**
 * A JPEG of at most `maxBytes`: lower quality first (80, 60, 40, 25), then
 * half the size and again, down to 16 pixels on the short side; throws when
 * even that does not fit (a cap below any JPEG's headers).
 */
export function encodeJpegCapped(img: RgbImage, maxBytes: number): { jpeg: Buffer; width: number; height: number; quality: number } {
  let current = img;
  for (;;) {
    for (const quality of JPEG_QUALITIES) {
      const data = encodeJpeg(current, quality);
      if (data.length <= maxBytes) return { jpeg: data, width: current.width, height: current.height, quality };
    }
    if (Math.min(current.width, current.height) < 32) throw new RangeError(`no JPEG of this image fits in ${maxBytes} bytes`);
    current = halve(current);
  }
}
