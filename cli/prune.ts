// edgefit prune MODEL --method M (--ratio R | --flops-cut F) [options] -o OUT [--json]
import os from 'node:os';
import path from 'node:path';
import { choiceFlag, fractionFlag, intFlag, parse, printJson, requireFlag, UsageError } from './args.js';
import { usageLine, type CommandSpec } from './command-spec.js';
import { outputPath, refuseFile, writeModelOutput } from './files.js';
import { recalibrationSummary } from './recalibration.js';
import { loadCalibration, MAX_VIEWS, modelInputSize } from '../compress/calibration.js';
import { progressBar, type ProgressBar } from '../compress/detect/progress.js';
import { addLineageStep, sha256Hex } from '../compress/lineage.js';
import { readModelFileBytes } from '../compress/onnx/read.js';
import { ACTIVATION_METHODS, METHODS, REDUCTIONS } from '../compress/prune/importance.js';
import { pruneModel, RECOVERIES, type PruneReport } from '../compress/prune/prune.js';
import { sparsify } from '../compress/prune/unstructured.js';

/** Flags of channel pruning that --unstructured would silently ignore. */
const STRUCTURED_ONLY = ['global', 'reduction', 'round-to', 'max-layer-ratio', 'ignore', 'seed', 'calib', 'views', 'reconstruct', 'recovery', 'no-recalibrate', 'sensitivity', 'cache'] as const;

function fraction(name: string, value: string | undefined): number | undefined {
  return value === undefined ? undefined : fractionFlag('prune', name, value, 0, 0.95);
}

function formatReport(file: string, out: string, r: PruneReport): string {
  const pct = (a: number, b: number) => `${(((b - a) / a) * 100).toFixed(1)}%`;
  const lines = [
    `${file} → ${out}${r.dequantized ? ' (int8 model: pruned its dequantized float graph; quantize again after pruning)' : ''}`,
    `method       ${r.method}, ${r.allocation} allocation, recovery: ${r.recovery.kind}${r.recovery.tensors ? ` (${r.recovery.tensors} tensors, ${r.recovery.convs} convs)` : ''}`,
    `parameters   ${r.parameters.before.toLocaleString('en-US')} → ${r.parameters.after.toLocaleString('en-US')} (${pct(r.parameters.before, r.parameters.after)})`,
    `GFLOPs       ${(r.flops.before / 1e9).toFixed(2)} → ${(r.flops.after / 1e9).toFixed(2)} (${pct(r.flops.before, r.flops.after)})`,
    `time         ${r.seconds.total.toFixed(2)} s${r.seconds.sensitivity ? ` (sensitivity ${r.seconds.sensitivity.toFixed(1)} s)` : ''}${r.recovery.kind !== 'none' ? ` (recovery ${r.seconds.recovery.toFixed(1)} s)` : ''}`,
    'channels per layer:',
    ...r.layers.filter((l) => l.after !== l.before).map((l) => `  ${l.name.padEnd(44)} ${String(l.before).padStart(4)} → ${l.after}`),
  ];
  const guard = r.recovery.guard;
  if (guard) {
    const refused = guard.tensors.filter((t) => !t.kept);
    lines.push(`substitution kept for ${guard.tensors.length - refused.length} of ${guard.tensors.length} tensors (each judged on ${guard.heldBack ? 'held-back calibration sources' : 'the calibration inputs'})${refused.length ? `; refused, agreement loss before → with it:` : ''}`);
    for (const t of refused) lines.push(`  ${t.tensor.padEnd(44)} ${t.before.toFixed(3)} → ${t.after.toFixed(3)}`);
  }
  const recal = r.recovery.recalibration;
  if (recal) lines.push(`statistics   ${recalibrationSummary(recal)}`);
  const refit = r.recovery.refit;
  if (refit) {
    lines.push(`least-squares refit of ${refit.layers.length} convs in ${refit.waves} waves (squared error relative to the original output's variance, on the calibration samples; held out: each fold left out of its own fit):`);
    for (const l of refit.layers) {
      const heldOut = Number.isNaN(l.heldOutAfter) ? `strength ${l.lambda} reused` : `held out ${l.heldOutAfter.toFixed(3)}, strength ${l.lambda}${l.kept ? ': no better held out, weights kept' : ''}`;
      lines.push(`  ${l.layer.padEnd(44)} ${l.errorBefore.toFixed(3)} → ${l.errorAfter.toFixed(3)}  (${heldOut})`);
    }
    for (const s of refit.skipped) lines.push(`  ${s.layer.padEnd(44)} not refit: ${s.reason}`);
  }
  if (r.groups.some((g) => g.sensitivity)) {
    lines.push('group sensitivity (with the group alone pruned: calibration fidelity / output drift):');
    for (const g of r.groups) {
      const levels = (g.sensitivity ?? []).map((l) => `-${l.removed}: ${l.fidelity.toFixed(3)}/${l.discrepancy.toFixed(3)}`).join('  ');
      lines.push(`  ${g.name.padEnd(44)} ${String(g.channels).padStart(4)} ch, removed ${String(g.removed).padStart(3)}   ${levels || 'not measured'}`);
    }
  }
  return lines.join('\n') + '\n';
}

export async function run(argv: string[], spec: CommandSpec): Promise<number> {
  const { values, positionals } = parse('prune', argv, {
    method: { type: 'string' }, ratio: { type: 'string' }, 'flops-cut': { type: 'string' }, global: { type: 'boolean' },
    reduction: { type: 'string' }, 'round-to': { type: 'string' }, 'max-layer-ratio': { type: 'string' }, ignore: { type: 'string', multiple: true },
    seed: { type: 'string' }, calib: { type: 'string' }, views: { type: 'string' }, reconstruct: { type: 'boolean' }, recovery: { type: 'string' }, 'no-recalibrate': { type: 'boolean' }, sensitivity: { type: 'boolean' },
    cache: { type: 'string' }, unstructured: { type: 'boolean' }, out: { type: 'string', short: 'o' }, json: { type: 'boolean' },
  });
  if (positionals.length !== 1) throw new UsageError(usageLine(spec));
  const file = positionals[0];
  const out = requireFlag('prune', 'out', values.out);
  const ratio = fraction('ratio', values.ratio);
  const flopsCut = fraction('flops-cut', values['flops-cut']);
  if ((ratio === undefined) === (flopsCut === undefined)) throw new UsageError('prune: give exactly one of --ratio and --flops-cut');
  const ignore = (values.ignore ?? []).map((p) => {
    try {
      return new RegExp(p);
    } catch (err) {
      throw new UsageError(`prune: --ignore '${p}' is not a regular expression: ${(err as Error).message}`);
    }
  });
  if (values.unstructured) {
    if (ratio === undefined) throw new UsageError('prune --unstructured takes --ratio (the fraction of conv weights set to zero)');
    const structured = STRUCTURED_ONLY.filter((k) => values[k] !== undefined);
    if (structured.length) throw new UsageError(`prune: ${structured.map((k) => `--${k}`).join(', ')} ${structured.length > 1 ? 'apply' : 'applies'} to channel pruning, not to --unstructured`);
  }
  // Every flag is checked before the model is read: a mistake costs nothing, not a calibration pass.
  // --unstructured zeroes the smallest weights whatever --method says; a --method given with it must still be a method
  const method = choiceFlag('prune', 'method', values.unstructured ? values.method : requireFlag('prune', 'method', values.method), METHODS, 'l1');
  const sparsity = values.unstructured ? ratio : undefined;
  const recovery = choiceFlag('prune', 'recovery', values.recovery, RECOVERIES, 'substitution');
  if (values.recovery !== undefined && !values.reconstruct) throw new UsageError('prune: --recovery only applies with --reconstruct');
  // without images --reconstruct can only correct biases: a recovery that needs them must not quietly become that
  if (values.recovery !== undefined && values.recovery !== 'bias' && !values.calib) throw new UsageError(`prune: --recovery ${values.recovery} needs calibration images (--calib DIR)`);
  if (values['no-recalibrate'] && !(values.reconstruct && values.calib)) throw new UsageError('prune: --no-recalibrate only applies with --reconstruct --calib DIR');
  // a few images get augmented views up to 16 inputs unless --views says how many per image
  const viewsPerImage = values.views === undefined ? undefined : intFlag('prune', 'views', values.views, 1, 1, MAX_VIEWS);
  if (viewsPerImage !== undefined && !values.calib) throw new UsageError('prune: --views needs --calib DIR');
  const reduction = choiceFlag('prune', 'reduction', values.reduction, REDUCTIONS, 'mean');
  const roundTo = intFlag('prune', 'round-to', values['round-to'], 8, 1, 1024);
  const maxLayerRatio = values['max-layer-ratio'] === undefined ? 0.9 : fractionFlag('prune', 'max-layer-ratio', values['max-layer-ratio'], 0.05, 0.99);
  const seed = intFlag('prune', 'seed', values.seed, 0);
  if (!values.unstructured) {
    const readsActivations = (ACTIVATION_METHODS as readonly string[]).includes(method);
    const needsImages = values.sensitivity ? '--sensitivity' : readsActivations ? `--method ${method}` : undefined;
    if (needsImages && !values.calib) throw new UsageError(`prune: ${needsImages} needs calibration images (--calib DIR)`);
    if (values.calib && !needsImages && !values.reconstruct) throw new UsageError('prune: --calib is read by --reconstruct, --sensitivity and the activation methods (apoz, mean_act); with none of them it would be ignored');
    if (values.cache !== undefined && !values.sensitivity) throw new UsageError('prune: --cache holds measured group sensitivities: it only applies with --sensitivity');
    if (values.global && values.sensitivity) throw new UsageError('prune: --global and --sensitivity both decide where the cut goes; give one of them');
  }
  // the sensitivity cache is written after minutes of measuring: a file in its place must fail now
  if (values.cache !== undefined) refuseFile('prune', 'cache', values.cache);
  const outFile = outputPath('prune', out);
  let bar: ProgressBar | undefined;
  try {
    const { bytes, model } = readModelFileBytes(file);
    const baseSha256 = sha256Hex(bytes);
    if (sparsity !== undefined) {
      const { model: sparse, report } = sparsify(model, sparsity);
      addLineageStep(sparse, baseSha256, 'prune-unstructured', { ratio: sparsity });
      writeModelOutput(sparse, outFile);
      if (values.json) printJson({ out, ...report });
      else process.stdout.write(`${file} → ${out}: ${report.zeroed.toLocaleString('en-US')} of ${report.weights.toLocaleString('en-US')} conv weights zeroed; compressed size ${(report.compressedBytes.before / 2 ** 20).toFixed(2)} → ${(report.compressedBytes.after / 2 ** 20).toFixed(2)} MiB (gzip). ${report.note}\n`);
      return 0;
    }
    const calibration = values.calib ? await loadCalibration(values.calib, modelInputSize(model), { viewsPerImage, minInputs: 16 }) : undefined;
    const stages = new Map<string, string>([['activations', 'calibration activations'], ['sensitivity', 'group sensitivity'], ['refit', 'least-squares refit'], ['recalibration', 'statistics recalibration']]);
    let stage = '';
    const report = await pruneModel(model, {
      method,
      ratio,
      flopsCut,
      global: values.global,
      reduction,
      roundTo,
      maxLayerRatio,
      ignore,
      seed,
      reconstruct: values.reconstruct,
      recovery,
      recalibrate: !values['no-recalibrate'],
      calibration,
      sensitivity: values.sensitivity,
      baseSha256,
      cacheDir: values.cache ?? path.join(os.homedir(), '.cache', 'edgefit'),
      onProgress: (s, done, total) => {
        if (s !== stage) {
          bar?.finish();
          bar = values.json ? undefined : progressBar(stages.get(s) ?? s);
          stage = s;
        }
        bar?.update(done, total);
      },
    });
    bar?.finish();
    // pruneModel has recorded its lineage step (with --round-to as a number, not the flag's string).
    writeModelOutput(report.model, outFile);
    if (values.json) printJson({ out, ...report.report });
    else process.stdout.write(formatReport(file, out, report.report));
    return 0;
  } catch (err) {
    // the bar's line ends before main prints the error's
    bar?.finish();
    throw err;
  }
}
