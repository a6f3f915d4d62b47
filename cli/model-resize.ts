// edgefit model resize MODEL --imgsz S -o OUT
import { intFlag, parse, printJson, requireFlag, UsageError } from './args.js';
import { usageLine } from './commands.js';
import { outputPath, writeModelOutput } from './files.js';
import { CalibrationError } from '../compress/calibration.js';
import { sha256Hex } from '../compress/lineage.js';
import { ModelFormatError, readModelFileBytes } from '../compress/onnx/read.js';
import { InputSizeError, resizeModel, ResizeError } from '../compress/resize.js';

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parse('model resize', argv, {
    imgsz: { type: 'string' },
    out: { type: 'string', short: 'o' },
    json: { type: 'boolean' },
  });
  if (positionals.length !== 1) throw new UsageError(usageLine('model resize'));
  const imgsz = intFlag('model resize', 'imgsz', requireFlag('model resize', 'imgsz', values.imgsz), 0, 1, 8192);
  const out = requireFlag('model resize', 'out', values.out);
  const outFile = outputPath('model resize', out);
  try {
    const { bytes, model: input } = readModelFileBytes(positionals[0]);
    const { model, report } = resizeModel(input, imgsz, { baseSha256: sha256Hex(bytes) });
    writeModelOutput(model, outFile);
    if (values.json) printJson({ out, ...report });
    else {
      process.stdout.write(
        `${positionals[0]} → ${out}: input ${report.from} → ${report.to}, ${report.anchorsBefore} → ${report.anchorsAfter} anchors ` +
          `(strides ${report.strides.join('/')}); rewrote ${report.rewritten.length} constants\n`,
      );
    }
    return 0;
  } catch (err) {
    // the stride is known only once the model is read, but a size that does not fit it is still the caller's mistake
    if (err instanceof InputSizeError) throw new UsageError(`model resize: ${err.message}`);
    if (err instanceof ModelFormatError || err instanceof ResizeError || err instanceof CalibrationError) {
      process.stderr.write(`edgefit model resize: ${(err as Error).message}\n`);
      return 1;
    }
    throw err;
  }
}
