// edgefit factorize MODEL --method spatial|dws|lowrank|grouped --flops-cut F [--calib DIR] [--refit] [--weight-svd] [--no-recalibrate] [--min-channels 64] [--sensitivity] -o OUT [--json]
// With --calib, spatial and lowrank SVDs are data-aware (whitened by the
// layers' input statistics, fitted layer by layer); --weight-svd keeps the
// plain SVD of the weights. With --calib the result also gets the guarded
// statistics recalibration (--no-recalibrate skips it).
import { choiceFlag, fractionFlag, intFlag, parse, printJson, requireFlag, UsageError } from './args.js';
import { outputPath, writeModelOutput } from './files.js';
import { recalibrationSummary } from './recalibration.js';
import { readModelFileBytes } from '../compress/onnx/read.js';
import { weightFormat } from '../compress/onnx/info.js';
import { loadCalibration, modelInputSize } from '../compress/calibration.js';
import { sha256Hex } from '../compress/lineage.js';
import { FACTOR_METHODS } from '../compress/factorize/layer.js';
import { FactorizeError, factorizeModel, type FactorizeReport } from '../compress/factorize/factorize.js';

const COMMAND = 'factorize';
const flags = {
  method: { type: 'string' },
  'flops-cut': { type: 'string' },
  calib: { type: 'string' },
  refit: { type: 'boolean' },
  'min-channels': { type: 'string' },
  sensitivity: { type: 'boolean' },
  'weight-svd': { type: 'boolean' },
  'no-recalibrate': { type: 'boolean' },
  out: { type: 'string', short: 'o' },
  json: { type: 'boolean' },
} as const;


function summary(file: string, out: string, r: FactorizeReport): string {
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  const lines = [
    `${file} → ${out}: ${r.method} factorization of ${r.layers.length} convs (${r.dataAware ? `data-aware${r.asymmetric ? ', asymmetric' : ''} SVD` : 'weight SVD'}, ${r.allocation} allocation${r.energyLevel !== undefined ? `, energy level ${r.energyLevel.toFixed(4)}` : ''})`,
    `  GFLOPs ${(r.flopsBefore / 1e9).toFixed(3)} → ${(r.flopsAfter / 1e9).toFixed(3)} (cut ${pct(r.cut)}, target ${pct(r.targetCut)}), weight energy kept ${pct(r.energyKept)}`,
  ];
  for (const l of r.layers) {
    const refit = l.refit ? `, refit λ=${l.refit.lambda.toPrecision(2)} held-out error ${l.refit.heldOutErrorBefore.toFixed(4)} → ${l.refit.heldOutErrorAfter.toFixed(4)}` : '';
    lines.push(`  ${l.name}: rank ${l.rank}/${l.exactRank}, energy ${pct(l.energy)}, MFLOPs ${(l.flopsBefore / 1e6).toFixed(1)} → ${(l.flopsAfter / 1e6).toFixed(1)}${refit}`);
  }
  if (r.recalibration) lines.push(`  statistics: ${recalibrationSummary(r.recalibration)}`);
  if (r.skipped.length) lines.push(`  ${r.skipped.length === 1 ? '1 conv left as it is' : `${r.skipped.length} convs left as they are`} (e.g. ${r.skipped[0].name}: ${r.skipped[0].reason})`);
  return lines.join('\n') + '\n';
}

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parse(COMMAND, argv, flags);
  if (positionals.length !== 1) throw new UsageError(`${COMMAND}: expected one MODEL file, got ${positionals.length}`);
  const method = choiceFlag(COMMAND, 'method', requireFlag(COMMAND, 'method', values.method), FACTOR_METHODS, 'spatial');
  const flopsCut = fractionFlag(COMMAND, 'flops-cut', requireFlag(COMMAND, 'flops-cut', values['flops-cut']), 0, 1, true);
  const minChannels = intFlag(COMMAND, 'min-channels', values['min-channels'], 64, 1, 1 << 20);
  if ((values.refit || values.sensitivity) && !values.calib) throw new UsageError(`${COMMAND}: --${values.refit ? 'refit' : 'sensitivity'} needs calibration images (--calib DIR)`);
  // the weight SVD is what runs without images: the flag only chooses something with --calib
  if (values['weight-svd'] && !values.calib) throw new UsageError(`${COMMAND}: --weight-svd only applies with --calib DIR (without images the SVD is of the weights already)`);
  if (values['weight-svd'] && (method === 'dws' || method === 'grouped')) throw new UsageError(`${COMMAND}: --weight-svd picks the weight SVD over the data-aware one, which only spatial and lowrank have; ${method} always uses the weight SVD`);
  if (values['no-recalibrate'] && !values.calib) throw new UsageError(`${COMMAND}: --no-recalibrate only applies with --calib DIR (without images nothing is recalibrated)`);
  const out = outputPath(COMMAND, values.out);
  const file = positionals[0];
  const { bytes, model } = readModelFileBytes(file);
  const format = weightFormat(model);
  if (format !== 'fp32') throw new FactorizeError(`${file} has ${format} weights; factorization works on float models (for int8 QDQ or dynamic models run 'edgefit model dequantize' first)`);
  const calibration = values.calib ? await loadCalibration(values.calib, modelInputSize(model)) : undefined;
  const { model: result, report } = await factorizeModel(model, {
    method,
    flopsCut,
    minChannels,
    ...(calibration && !values['weight-svd'] ? { dataAware: { calibration } } : {}),
    ...(values.refit && calibration ? { refit: { calibration } } : {}),
    ...(values.sensitivity && calibration ? { sensitivity: { calibration } } : {}),
    ...(calibration && !values['no-recalibrate'] ? { recalibrate: { calibration } } : {}),
    baseSha256: sha256Hex(bytes),
  });
  writeModelOutput(result, out);
  if (values.json) printJson({ out, ...report });
  else process.stdout.write(summary(file, out, report));
  return 0;
}
