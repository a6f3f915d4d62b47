// edgefit quantize MODEL --calib DIR [--method minmax|percentile|entropy] [--per-channel] [--exclude PATTERN] -o OUT [--json]
import { choiceFlag, parse, printJson, requireFlag, UsageError } from './args.js';
import { usageLine } from './commands.js';
import { outputPath, writeModelOutput } from './files.js';
import { CalibrationError, loadCalibration, modelInputSize } from '../compress/calibration.js';
import { sha256Hex } from '../compress/lineage.js';
import { DequantizeError } from '../compress/onnx/dequantize.js';
import { ModelFormatError, readModelFileBytes } from '../compress/onnx/read.js';
import { CalibrationRunError } from '../compress/quantize/calibrate.js';
import { OpsetUpgradeError } from '../compress/quantize/opset.js';
import { DEFAULT_METHOD, quantizeModel, QuantizeError } from '../compress/quantize/quantize.js';
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

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parse('quantize', argv, {
    calib: { type: 'string' },
    method: { type: 'string' },
    'per-channel': { type: 'boolean' },
    exclude: { type: 'string', multiple: true },
    out: { type: 'string', short: 'o' },
    json: { type: 'boolean' },
  });
  if (positionals.length !== 1) throw new UsageError(usageLine('quantize'));
  const calib = requireFlag('quantize', 'calib', values.calib);
  const out = requireFlag('quantize', 'out', values.out);
  const method = choiceFlag('quantize', 'method', values.method, CALIBRATION_METHODS, DEFAULT_METHOD);
  const exclude = patterns(values.exclude);
  const outFile = outputPath('quantize', out);
  try {
    const { bytes, model: input } = readModelFileBytes(positionals[0]);
    const calibration = await loadCalibration(calib, modelInputSize(input));
    const { model, report } = await quantizeModel(input, calibration, {
      method,
      perChannel: values['per-channel'] ?? false,
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
          `  kept float: ${report.floatConvs.map((c) => `${c.node} (${c.reason})`).join('\n              ') || 'none'}\n`,
      );
    }
    return 0;
  } catch (err) {
    const known = [ModelFormatError, DequantizeError, CalibrationError, CalibrationRunError, QuantizeError, OpsetUpgradeError];
    if (known.some((k) => err instanceof k)) {
      process.stderr.write(`edgefit quantize: ${(err as Error).message}\n`);
      return 1;
    }
    throw err;
  }
}
