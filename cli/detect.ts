import { openDetector } from '../compress/detect/detector.js';
import { ImageError, readImage } from '../compress/detect/image.js';
import { UsageError, numberFlag, parse, printJson } from './args.js';

const COMMAND = 'detect';
const flags = {
  conf: { type: 'string' },
  iou: { type: 'string' },
  json: { type: 'boolean' },
} as const;

const round1 = (v: number) => Math.round(v * 10) / 10;

/** `edgefit detect MODEL IMAGE... [--conf 0.25] [--iou 0.45] [--json]`: predict-style detection. */
export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parse(COMMAND, argv, flags);
  if (positionals.length < 2) throw new UsageError(`${COMMAND}: expected MODEL and at least one IMAGE, got ${positionals.length} argument(s)`);
  const conf = numberFlag(COMMAND, 'conf', values.conf, 0.25, 0, 1);
  const iou = numberFlag(COMMAND, 'iou', values.iou, 0.45, 0, 1);
  const [modelPath, ...imagePaths] = positionals;

  const detector = await openDetector(modelPath, { conf, iou });
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
