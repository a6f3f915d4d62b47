import type { RgbImage } from '../../compress/detect/image.js';
import type { LetterboxedImage } from '../../compress/detect/letterbox.js';
import type { Detection } from '../../compress/detect/postprocess.js';
import type { DetectionsMessage } from '../../protocol/messages.js';

/** The source frame's size: a pre-letterboxed frame (ffmpeg's) names the frame it came from. */
export function sourceSize(frame: RgbImage | LetterboxedImage): { width: number; height: number } {
  const t = (frame as Partial<LetterboxedImage>).letterbox;
  return t ? { width: t.srcWidth, height: t.srcHeight } : { width: frame.width, height: frame.height };
}

// A tenth of a pixel and a thousandth of a score are below what the model resolves, and keep a line of 20 boxes near 2 KB.
const px = (v: number) => Math.round(v * 10) / 10;
const score = (v: number) => Math.min(1, Math.max(0, Math.round(v * 1000) / 1000));

/** One served frame's record: boxes (already in source pixels, see Detector.detect) with class names. */
export function detectionsRecord(
  head: Pick<DetectionsMessage, 'v' | 'ts' | 'candidateId' | 'sha256' | 'seq'>,
  frame: RgbImage | LetterboxedImage,
  detections: readonly Detection[],
  className: (classId: number) => string,
): DetectionsMessage {
  return {
    ...head,
    frame: sourceSize(frame),
    boxes: detections.slice(0, 300).map((d) => ({
      box: [px(d.box[0]), px(d.box[1]), px(d.box[2]), px(d.box[3])],
      classId: d.classId,
      className: className(d.classId).slice(0, 64),
      score: score(d.score),
    })),
  };
}
