// edgefit quantize MODEL --calib DIR [--method minmax|percentile|entropy] [--per-channel] [--split-upsample-convs | --no-split-upsample-convs] [--integer-stem] [--exclude PATTERN] -o OUT [--json]
import { choiceFlag, parse, printJson, requireFlag, UsageError } from './args.js';
import { usageLine, type CommandSpec } from './command-spec.js';
import { outputPath, writeModelOutput } from './files.js';
import { loadCalibration, modelInputSize } from '../compress/calibration.js';
import { sha256Hex } from '../compress/lineage.js';
import { readModelFileBytes } from '../compress/onnx/read.js';
import { DEFAULT_METHOD, quantizeModel } from '../compress/quantize/quantize.js';
import { CALIBRATION_METHODS } from '../compress/quantize/ranges.js';

function patterns(values: string[] | undefined): RegExp[] {
  return (values ?? []).map((p) => {
    try {
      return new RegExp(p);
    } catch (err) {
      throw new UsageError(`quantize: --exclude '${p}' is not a regular expression: ${(err as Error).message}`);
    }
  });
}

/** Unusable models or calibration images throw their coded error: main prints it and exits 1. */
export async function run(argv: string[], spec: CommandSpec): Promise<number> {
  const { values, positionals } = parse('quantize', argv, {
    calib: { type: 'string' },
    method: { type: 'string' },
    'per-channel': { type: 'boolean' },
    // the default since the search models it; still accepted so that scripts written for the opt-in keep working
    'split-upsample-convs': { type: 'boolean' },
    'no-split-upsample-convs': { type: 'boolean' },
    'integer-stem': { type: 'boolean' },
    exclude: { type: 'string', multiple: true },
    out: { type: 'string', short: 'o' },
    json: { type: 'boolean' },
  });
  if (positionals.length !== 1) throw new UsageError(usageLine(spec));
  const calib = requireFlag('quantize', 'calib', values.calib);
  const out = requireFlag('quantize', 'out', values.out);
  const method = choiceFlag('quantize', 'method', values.method, CALIBRATION_METHODS, DEFAULT_METHOD);
  const exclude = patterns(values.exclude);
  const outFile = outputPath('quantize', out);
  const { bytes, model: input } = readModelFileBytes(positionals[0]);
  const calibration = await loadCalibration(calib, modelInputSize(input));
  const { model, report } = await quantizeModel(input, calibration, {
    method,
    perChannel: values['per-channel'] ?? false,
    hoistPointwise: !values['no-split-upsample-convs'],
    stem: values['integer-stem'] ? 'integer' : 'float',
    exclude,
    baseSha256: sha256Hex(bytes),
  });
  writeModelOutput(model, outFile);
  if (values.json) printJson({ out, ...report });
  else {
    process.stdout.write(
      `${positionals[0]} → ${out}: int8 QDQ (${report.method} calibration on ${report.calibrationImages} images, ` +
        `${report.perChannel ? 'per-channel' : 'per-tensor'} weights, ${report.activationType} activations)\n` +
        `  integer: ${Object.entries(report.integerOps).map(([op, n]) => `${op} ${n}`).join(', ')}; ${report.activations.length} activation tensors (${report.calibratedActivations} calibrated, the rest follow from their producer)\n` +
        (report.pointwiseBeforeUpsample.length ? `  split around their upsamples: ${report.pointwiseBeforeUpsample.join(', ')}\n` : '') +
        `  kept float: ${report.floatConvs.map((c) => `${c.node} (${c.reason})`).join('\n              ') || 'none'}\n`,
    );
  }
  return 0;
}
