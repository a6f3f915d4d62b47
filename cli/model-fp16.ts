// edgefit model fp16 MODEL -o OUT [--keep-io-float | --fp16-io]
import { parse, printJson, requireFlag, UsageError } from './args.js';
import { usageLine, type CommandSpec } from './command-spec.js';
import { outputPath, writeModelOutput } from './files.js';
import { convertToFp16 } from '../compress/fp16.js';
import { sha256Hex } from '../compress/lineage.js';
import { readModelFileBytes } from '../compress/onnx/read.js';

/** Unreadable or unconvertible models throw their coded error: main prints it and exits 1. */
export async function run(argv: string[], spec: CommandSpec): Promise<number> {
  const { values, positionals } = parse('model fp16', argv, {
    out: { type: 'string', short: 'o' },
    'keep-io-float': { type: 'boolean' },
    'fp16-io': { type: 'boolean' },
    json: { type: 'boolean' },
  });
  if (positionals.length !== 1) throw new UsageError(usageLine(spec));
  if (values['keep-io-float'] && values['fp16-io']) throw new UsageError('model fp16: --keep-io-float and --fp16-io contradict each other; give one');
  const keepIoFloat = !values['fp16-io'];
  const out = requireFlag('model fp16', 'out', values.out);
  const outFile = outputPath('model fp16', out);
  const { bytes, model: input } = readModelFileBytes(positionals[0]);
  const { model, report } = convertToFp16(input, { keepIoFloat, baseSha256: sha256Hex(bytes) });
  writeModelOutput(model, outFile);
  if (values.json) printJson({ out, ...report });
  else {
    process.stdout.write(
      `${positionals[0]} → ${out}: fp16, ${report.halfInitializers} weights in float16, ${report.halfNodes} nodes in float16, ` +
        `${report.floatNodes} kept float32 between ${report.castsAdded} Casts; ${keepIoFloat ? 'float32' : 'float16'} inputs and outputs\n`,
    );
  }
  return 0;
}
