import { openDetector } from '../compress/detect/detector.js';
import { ImageError, readImage } from '../compress/detect/image.js';
import { IMAGE_FILE } from '../agent/source/spec.js';
import { UsageError, intFlag, numberFlag, parse, printJson } from './args.js';
import { detectFrames } from './detect-sources.js';

const COMMAND = 'detect';
const flags = {
  conf: { type: 'string' },
  iou: { type: 'string' },
  json: { type: 'boolean' },
  'max-frames': { type: 'string' },
  duration: { type: 'string' },
} as const;

const round1 = (v: number) => Math.round(v * 10) / 10;

/**
 * `edgefit detect MODEL SOURCE... [--conf 0.25] [--iou 0.45] [--max-frames N]
 * [--duration S] [--json]`: predict-style detection. JPEG/PNG files alone keep
 * the image mode (one JSON document with --json); any video file, folder,
 * device or stream switches to frames (one line, or JSON line, per frame).
 */
export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parse(COMMAND, argv, flags);
  if (positionals.length < 2) throw new UsageError(`${COMMAND}: expected MODEL and at least one SOURCE (image, video, folder, /dev/videoN or URL), got ${positionals.length} argument(s)`);
  const conf = numberFlag(COMMAND, 'conf', values.conf, 0.25, 0, 1);
  const iou = numberFlag(COMMAND, 'iou', values.iou, 0.45, 0, 1);
  const maxFrames = values['max-frames'] === undefined ? undefined : intFlag(COMMAND, 'max-frames', values['max-frames'], 1, 1);
  const durationS = values.duration === undefined ? undefined : numberFlag(COMMAND, 'duration', values.duration, 0, 0.001, 366 * 86400);
  const [modelPath, ...imagePaths] = positionals;
  const stills = imagePaths.every((p) => IMAGE_FILE.test(p) && !/^[a-z][a-z0-9+.-]*:\/\//i.test(p));
  if (stills && (maxFrames !== undefined || durationS !== undefined)) {
    throw new UsageError(`${COMMAND}: --${maxFrames !== undefined ? 'max-frames' : 'duration'} applies to video files, folders, devices and streams; these are all images`);
  }

  const detector = await openDetector(modelPath, { conf, iou });
  if (!stills) {
    try {
      const failedSources = await detectFrames(detector, imagePaths, { json: values.json ?? false, maxFrames, durationS }, (line) => process.stderr.write(`edgefit ${COMMAND}: ${line}\n`));
      return failedSources > 0 ? 1 : 0;
    } finally {
      await detector.release();
    }
  }
  const results = [];
  let failed = 0;
  try {
    for (const file of imagePaths) {
      let image;
      try {
        image = await readImage(file);
      } catch (err) {
        if (!(err instanceof ImageError)) throw err;
        failed++;
        process.stderr.write(`edgefit ${COMMAND}: ${err.message}\n`);
        results.push({ file, error: err.message });
        continue;
      }
      const { detections, timings, warning } = await detector.detect(image);
      const objects = detections.map((d) => ({ classId: d.classId, className: detector.className(d.classId), score: d.score, box: d.box.map(round1) }));
      if (warning) process.stderr.write(`warning: ${file}: ${warning}\n`);
      results.push({ file, width: image.width, height: image.height, detections: objects, timings, ...(warning ? { warning } : {}) });
      if (!values.json) {
        process.stdout.write(
          `${file} (${image.width}×${image.height}): ${objects.length} object(s)  ` +
            `[pre ${timings.preprocessMs.toFixed(1)} ms, inference ${timings.inferenceMs.toFixed(1)} ms, post ${timings.postprocessMs.toFixed(1)} ms]\n`,
        );
        for (const o of objects) process.stdout.write(`  ${o.className.padEnd(16)} ${o.score.toFixed(3)}  [${o.box.map(Math.round).join(', ')}]\n`);
      }
    }
  } finally {
    await detector.release();
  }
  if (values.json) {
    printJson({
      model: modelPath,
      input: { name: detector.inputName, width: detector.inputWidth, height: detector.inputHeight },
      conf,
      iou,
      images: results,
    });
  }
  return failed > 0 ? 1 : 0;
}
