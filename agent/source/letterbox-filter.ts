import { letterboxGeometry, PAD_VALUE, type LetterboxTransform } from '../../compress/detect/letterbox.js';

/**
 * The ffmpeg filter graph that letterboxes a srcWidth×srcHeight video to the
 * model input exactly as compress/detect/letterbox.ts does (ultralytics
 * LetterBox: scale by min(S/h, S/w), sizes rounded half to even, centred with
 * the odd pixel at the bottom/right, grey 114 around): RGB first, so the grey
 * is written as 114 in every channel and never goes through YUV; then a
 * resize (SCALE_FLAGS) to the new size and the pad. The frames that come out are
 * inputWidth×inputHeight rgb24, ready for the detector, and the transform maps
 * its boxes back to the source's pixels.
 */
export function letterboxFilter(srcWidth: number, srcHeight: number, inputWidth: number, inputHeight = inputWidth): { filter: string; transform: LetterboxTransform } {
  const t = letterboxGeometry(srcWidth, srcHeight, inputWidth, inputHeight);
  const grey = PAD_VALUE.toString(16).padStart(2, '0').repeat(3);
  const steps = ['format=rgb24'];
  // scale=w:h always resizes, even to the same size, so an unscaled frame skips it
  if (t.newWidth !== srcWidth || t.newHeight !== srcHeight) steps.push(`scale=${t.newWidth}:${t.newHeight}:flags=${SCALE_FLAGS}`);
  if (t.newWidth !== inputWidth || t.newHeight !== inputHeight) steps.push(`pad=${inputWidth}:${inputHeight}:${t.padX}:${t.padY}:color=0x${grey}`);
  return { filter: steps.join(','), transform: t };
}

/**
 * swscale's area average. The JPEG path copies cv2's INTER_LINEAR, which does
 * not widen its kernel when shrinking; no swscale kernel does the same.
 * Measured against the JPEG path's letterbox (mean |Δ| per byte, max) on the
 * fixtures: bus.jpg (×0.593) area 2.12/70, bicubic 2.45/76, bilinear
 * 3.04/83, fast_bilinear 5.08/211; zidane.jpg (×0.5, where INTER_LINEAR is a
 * 2×2 mean) area 0.21/3, bilinear 0.51/44. accurate_rnd and full_chroma_int
 * changed nothing or made it worse. Upscaling, area is bilinear, as cv2 is.
 */
export const SCALE_FLAGS = 'area';
