import { letterboxGeometry, PAD_VALUE, type LetterboxTransform } from '../../compress/detect/letterbox.js';

/**
 * The ffmpeg filter graph that letterboxes a srcWidth×srcHeight video to the
 * model input exactly as compress/detect/letterbox.ts does (ultralytics
 * LetterBox: scale by min(S/h, S/w), sizes rounded half to even, centred with
 * the odd pixel at the bottom/right, grey 114 around): RGB first, so the grey
 * is written as 114 in every channel and never goes through YUV; then a
 * bilinear resize to the new size and the pad. The frames that come out are
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
 * swscale's bilinear with exact rounding. cv2's INTER_LINEAR (what the JPEG
 * path copies) does not widen its kernel when shrinking and swscale's does, so
 * pixels differ by a few levels on sharp edges; see the source tests for the
 * measured effect on boxes.
 */
export const SCALE_FLAGS = 'bilinear+accurate_rnd+full_chroma_int';
