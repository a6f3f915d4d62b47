// edgefit model resize MODEL --imgsz S -o OUT
import { intFlag, parse, printJson, requireFlag, UsageError } from './args.js';
import { usageLine, type CommandSpec } from './command-spec.js';
import { outputPath, writeModelOutput } from './files.js';
import { sha256Hex } from '../compress/lineage.js';
import { readModelFileBytes } from '../compress/onnx/read.js';
import { resizeModel } from '../compress/resize.js';

/** Unreadable models throw their coded error (exit 1); a size that does not fit the strides is E_INPUT_SIZE (exit 2). */
export async function run(argv: string[], spec: CommandSpec): Promise<number> {
  const { values, positionals } = parse('model resize', argv, {
    imgsz: { type: 'string' },
    out: { type: 'string', short: 'o' },
    json: { type: 'boolean' },
  });
  if (positionals.length !== 1) throw new UsageError(usageLine(spec));
  const imgsz = intFlag('model resize', 'imgsz', requireFlag('model resize', 'imgsz', values.imgsz), 0, 1, 8192);
  const out = requireFlag('model resize', 'out', values.out);
  const outFile = outputPath('model resize', out);
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
}
