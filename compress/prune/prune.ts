// pruneModel: importance → allocation (uniform, global or by sensitivity) →
// surgery → recovery → statistics recalibration, with a report of what
// changed. Quantized models are pruned on their float graph (dequantized
// first, and the report says so).
import path from 'node:path';
import { modelCost } from '../cost.js';
import { addLineageStep, sha256Hex } from '../lineage.js';
import { writeModel } from '../onnx/write.js';
import { calibrationFold, type CalibrationSet } from '../calibration.js';
import { dequantizeModel } from '../onnx/dequantize.js';
import { weightFormat, weightFormatLabel } from '../onnx/info.js';
import type { Model } from '../onnx/ir.js';
import { PruneError } from './errors.js';
import { allocate, planFromCounts, type Plan } from './allocate.js';
import { collectActivations, type SampledActivations } from './activations.js';
import { buildDependencyGraph } from './dependency.js';
import { buildGroups, type GroupIndex } from './groups.js';
import { ACTIVATION_METHODS, groupImportance, IMPORTANCE_DEFINITION, type GroupReduction, type ImportanceMethod } from './importance.js';
import { measureSensitivity, sensitivityPlan, type GroupSensitivity, type SensitivityProfile } from './sensitivity-profile.js';
import { estimateChannelMeans, substituteChannels, substitutionTargets } from './substitute.js';
import { guardSubstitution, samplesOf, type SubstitutionGuardReport } from './substitution-guard.js';
import { refitConsumers, type RefitOptions, type RefitReport } from './refit.js';
import { recalibrateIfBetter, type GuardedRecalibration } from './recalibrate.js';
import { keptChannels, applyPruning } from './surgery.js';
import { EdgefitError } from '../../protocol/errors.js';

export const RECOVERIES = ['substitution', 'bias', 'refit'] as const;
export type Recovery = (typeof RECOVERIES)[number];

export interface PruneOptions {
  method: ImportanceMethod;
  ratio?: number;
  flopsCut?: number;
  /** Explicit units to remove per group (compress/prune/groups.ts order), the least important first: what a search's genome asks for. */
  removals?: readonly number[];
  global?: boolean;
  reduction?: GroupReduction;
  roundTo?: number;
  maxLayerRatio?: number;
  /** Groups with a producing conv whose node name matches stay whole. */
  ignore?: readonly RegExp[];
  seed?: number;
  /** Recover the pruned model without training (needs `calibration` for substitution). */
  reconstruct?: boolean;
  /** substitution (default), bias compensation, or a sequential least-squares refit that starts from substitution. */
  recovery?: Recovery;
  /**
   * After the recovery, restore the original per-channel statistics of every
   * conv downstream of a cut, kept only where it agrees better on the
   * calibration inputs (default on when reconstructing from calibration images).
   */
  recalibrate?: boolean;
  /**
   * Keep each tensor's substitution only where it agrees better on held-back
   * calibration sources (substitution-guard.ts; default on). Off, every
   * target is substituted: on the fixture, l1 with sensitivity allocation at
   * 20% fewer FLOPs, that took the held-out views 0.754 → 0.618 where the
   * guard, keeping 4 of 6 tensors, gives 0.764.
   */
  substitutionGuard?: boolean;
  /** Also judge the recalibration on held-back calibration sources (RecalibrationOptions.heldBack; default off). */
  recalibrationGuard?: boolean;
  /** Cost knobs of the refit recovery (positions, CV grid and folds). */
  refit?: Omit<RefitOptions, 'onWave'>;
  calibration?: CalibrationSet;
  /** Allocate by measured per-group sensitivity (needs `calibration` and `baseSha256`). */
  sensitivity?: boolean;
  /** sha256 of the base model file: the lineage's base (default: the hash of `input` as written) and the sensitivity cache's key. */
  baseSha256?: string;
  cacheDir?: string;
  /** Sampled positions per calibration input and tensor for the regressions (default: 1024 per source image, shared by its views). */
  positions?: number;
  /** Group importance of this model and method from an earlier call (a sweep over ratios scores once). */
  importance?: Float64Array[];
  /** Activations of this model on `calibration` from an earlier call (a sweep collects them once). */
  activations?: Map<string, SampledActivations>;
  onProgress?: (stage: string, done: number, total: number) => void;
}

export interface GroupReport {
  name: string;
  channels: number;
  removed: number;
  /** Agreement with the base model on the calibration inputs with this group alone pruned, per removal count (with --sensitivity). */
  sensitivity?: GroupSensitivity['levels'];
}

export interface PruneReport {
  method: ImportanceMethod;
  dequantized: boolean;
  parameters: { before: number; after: number };
  flops: { before: number; after: number };
  groups: GroupReport[];
  layers: { name: string; before: number; after: number }[];
  recovery: { kind: Recovery | 'none'; tensors: number; convs: number; lambdas: number[]; guard?: SubstitutionGuardReport; refit?: RefitReport; recalibration?: GuardedRecalibration };
  allocation: 'uniform' | 'global' | 'sensitivity' | 'explicit';
  seconds: { total: number; recovery: number; sensitivity: number };
}

export { PruneError };

function floatModel(model: Model, baseSha256: string | undefined): { model: Model; dequantized: boolean } {
  const format = weightFormat(model);
  if (format === 'fp32') return { model, dequantized: false };
  if (format === 'qdq-int8' || format === 'dynamic-int8') return { model: dequantizeModel(model, { baseSha256 }).model, dequantized: true };
  throw new PruneError(`cannot prune this model (weights: ${weightFormatLabel[format]}): prune an fp32 export (QDQ and dynamic int8 models are dequantized first)`);
}

export async function pruneModel(input: Model, o: PruneOptions): Promise<{ model: Model; report: PruneReport; plan: Plan; index: GroupIndex; importance: Float64Array[]; activations?: Map<string, SampledActivations> }> {
  const t0 = performance.now();
  if ([o.ratio, o.flopsCut, o.removals].filter((x) => x !== undefined).length !== 1) throw new PruneError('give exactly one of ratio, flopsCut and removals');
  if (o.removals && o.sensitivity) throw new PruneError('explicit removals and sensitivity allocation exclude each other');
  // Recovery without images falls back to bias compensation from estimated means.
  const needsImages = (ACTIVATION_METHODS as readonly string[]).includes(o.method) || o.sensitivity;
  if (o.reconstruct && o.recovery === 'refit' && !o.calibration) throw new PruneError('the refit recovery needs calibration images');
  if (needsImages && !o.calibration) throw new PruneError(`${o.sensitivity ? 'sensitivity allocation' : `importance '${o.method}'`} needs calibration images`);
  const { model: base, dequantized } = floatModel(input, o.baseSha256);
  const index = buildGroups(buildDependencyGraph(base));
  const frozen = new Set<number>();
  index.groups.forEach((g, k) => {
    if (o.ignore?.some((re) => g.producers.some((p) => re.test(p.node.name)))) frozen.add(k);
  });

  const views = o.calibration?.sources ? o.calibration.inputs.length / new Set(o.calibration.sources).size : 1;
  const positions = o.positions ?? Math.round(1024 / views);
  const needsSamples = o.calibration && (o.reconstruct || (ACTIVATION_METHODS as readonly string[]).includes(o.method));
  let samples: Map<string, SampledActivations> | undefined;
  if (needsSamples && o.activations) samples = o.activations;
  else if (needsSamples) {
    const names = new Set(substitutionTargets(index.dep, new Set(index.groups.flatMap((g) => g.units.slice(1)))));
    for (const g of index.groups) for (const v of g.values) if (!index.dep.values.get(v.name)!.constant) names.add(v.name);
    samples = await collectActivations(base, o.calibration!.inputs, o.calibration!.size, [...names], {
      positions,
      seed: o.seed,
      folds: o.calibration!.inputs.map((_, i) => calibrationFold(o.calibration!, i)),
      onImage: (d, t) => o.onProgress?.('activations', d, t),
    });
  }
  const activity = samples && new Map([...samples].map(([k, v]) => [k, v.activity]));
  if (o.importance && o.importance.length !== index.groups.length) throw new PruneError(`importance for ${o.importance.length} groups given, the model has ${index.groups.length}`);
  const importance = o.importance ?? index.groups.map((g) => groupImportance(index, g, { method: o.method, reduction: o.reduction, seed: o.seed, activity }));
  const roundTo = o.roundTo ?? 8;
  const maxLayerRatio = o.maxLayerRatio ?? 0.9;

  let plan: Plan;
  let profile: SensitivityProfile | undefined;
  const ts = performance.now();
  if (o.removals) {
    plan = planFromCounts(index, importance, explicitCounts(index, o.removals));
  } else if (o.sensitivity) {
    profile = await measureSensitivity(index, importance, {
      baseSha256: o.baseSha256 ?? 'unknown',
      recipe: { method: o.method, reduction: o.reduction ?? 'mean', seed: o.seed ?? 0, ignore: (o.ignore ?? []).map(String), importance: IMPORTANCE_DEFINITION },
      calibration: o.calibration!,
      roundTo,
      maxLayerRatio,
      frozen,
      cacheDir: o.cacheDir,
      onProgress: (d, t) => o.onProgress?.('sensitivity', d, t),
    });
    const cut = o.flopsCut ?? 1 - (() => {
      const uniform = allocate(index, importance, { ratio: o.ratio, roundTo, maxLayerRatio, frozen });
      return uniform.flopsAfter / uniform.flopsBefore;
    })();
    const p = sensitivityPlan(index, importance, profile, cut);
    if (!p.reached) throw new EdgefitError('E_PRUNE_ALLOCATION', { reason: `the measured levels cannot reach a ${(cut * 100).toFixed(1)}% FLOPs cut (only ${((1 - p.flopsAfter / p.flopsBefore) * 100).toFixed(1)}%)` });
    plan = p;
  } else {
    plan = allocate(index, importance, { ratio: o.ratio, flopsCut: o.flopsCut, global: o.global, roundTo, maxLayerRatio, frozen });
  }
  const sensitivitySeconds = (performance.now() - ts) / 1000;

  let pruned = applyPruning(index.dep, plan.removed);
  const tr = performance.now();
  let recovery: PruneReport['recovery'] = { kind: 'none', tensors: 0, convs: 0, lambdas: [] };
  if (o.reconstruct && plan.removed.size > 0) {
    const kind: Recovery = o.calibration ? o.recovery ?? 'substitution' : 'bias';
    let source: Parameters<typeof substituteChannels>[3];
    if (kind !== 'bias') source = { samples: samples! };
    else if (o.calibration) {
      source = { means: new Map([...samples!].map(([k, v]) => [k, v.activity.meanAbs.map((_, ch) => meanOf(v, ch))])) };
    } else {
      source = { means: await estimateChannelMeans(base, substitutionTargets(index.dep, plan.removed), inputSize(base)) };
    }
    let guard: SubstitutionGuardReport | undefined;
    if (kind === 'substitution' && samples && o.substitutionGuard !== false) {
      const g = await guardSubstitution(index.dep, plan.removed, samples, o.calibration!, (d, t) => o.onProgress?.('substitution guard', d, t));
      source = { samples: samplesOf(samples, g.kept) };
      guard = g.report;
    }
    recovery = { kind, ...substituteChannels(index.dep, plan.removed, pruned, source), ...(guard ? { guard } : {}) };
    if (kind === 'refit') {
      recovery.refit = await refitConsumers(index.dep, plan.removed, pruned, o.calibration!, { seed: o.seed, ...o.refit, onWave: (d, t) => o.onProgress?.('refit', d, t) });
    }
    if (o.calibration && o.recalibrate !== false) {
      const r = await recalibrateIfBetter(index.dep, { removed: plan.removed }, pruned, o.calibration, { heldBack: o.recalibrationGuard, onWave: (d, t) => o.onProgress?.('recalibration', d, t) });
      pruned = r.model;
      recovery.recalibration = r.report;
    }
  }
  const recoverySeconds = (performance.now() - tr) / 1000;

  const costBefore = modelCost(base);
  const costAfter = modelCost(pruned);
  const kept = keptChannels(index.dep, plan.removed);
  const report: PruneReport = {
    method: o.method,
    dequantized,
    parameters: { before: costBefore.parameters, after: costAfter.parameters },
    flops: { before: costBefore.flops, after: costAfter.flops },
    groups: index.groups.map((g, k) => ({ name: g.name, channels: g.units.length, removed: plan.removedPerGroup[k], ...(profile ? { sensitivity: profile.groups[k].levels } : {}) })),
    layers: index.dep.convs.map((c) => ({ name: c.node.name || c.output, before: c.weightDims[0], after: kept.get(c.output)?.length ?? c.weightDims[0] })),
    recovery,
    allocation: o.removals ? 'explicit' : o.sensitivity ? 'sensitivity' : o.global ? 'global' : 'uniform',
    seconds: { total: (performance.now() - t0) / 1000, recovery: recoverySeconds, sensitivity: o.sensitivity ? sensitivitySeconds : 0 },
  };
  addLineageStep(pruned, o.baseSha256 ?? sha256Hex(writeModel(input)), 'prune', lineageParams(o, report, roundTo, maxLayerRatio));
  return { model: pruned, report, plan, index, importance, activations: samples };
}

/** The one lineage step every caller of pruneModel records: what decides which channels go and how the cut was recovered. */
function lineageParams(o: PruneOptions, report: PruneReport, roundTo: number, maxLayerRatio: number): Record<string, unknown> {
  return {
    method: o.method,
    reduction: o.reduction ?? 'mean',
    importance: IMPORTANCE_DEFINITION,
    ...(o.ratio !== undefined ? { ratio: o.ratio } : o.removals ? { removals: [...o.removals] } : { flopsCut: o.flopsCut }),
    allocation: report.allocation,
    roundTo,
    maxLayerRatio,
    ignore: (o.ignore ?? []).map((re) => re.source),
    seed: o.seed ?? 0,
    reconstruct: !!o.reconstruct,
    recovery: report.recovery.kind,
    ...(report.recovery.guard ? { substituted: report.recovery.guard.tensors.filter((t) => t.kept).map((t) => t.tensor), refused: report.recovery.guard.tensors.filter((t) => !t.kept).map((t) => t.tensor) } : {}),
    recalibrated: !!report.recovery.recalibration?.applied,
    flops: report.flops,
    ...(o.calibration ? { calibration: o.calibration.files.map((f) => path.basename(f)), calibrationInputs: o.calibration.inputs.length } : {}),
  };
}

/** Explicit removal counts, checked against the model's groups: one per group, whole, and leaving each group at least one unit. */
function explicitCounts(index: GroupIndex, removals: readonly number[]): number[] {
  if (removals.length !== index.groups.length) throw new PruneError(`removals for ${removals.length} groups given, the model has ${index.groups.length}`);
  return removals.map((r, g) => {
    const n = index.groups[g].units.length;
    if (!Number.isInteger(r) || r < 0 || r >= n) throw new PruneError(`group ${index.groups[g].name}: cannot remove ${r} of its ${n} units (an integer from 0 to ${n - 1})`);
    return r;
  });
}

/** Mean of a channel over the sampled rows of every image. */
function meanOf(s: SampledActivations, ch: number): number {
  let sum = 0, n = 0;
  for (const rows of s.rows) {
    for (let i = ch; i < rows.length; i += s.channels) sum += rows[i];
    n += rows.length / s.channels;
  }
  return n ? sum / n : 0;
}

function inputSize(model: Model): number {
  const input = model.graph.inputs.find((i) => !model.graph.initializers.has(i.name));
  const h = input?.shape?.[2];
  if (typeof h !== 'number') throw new PruneError('bias compensation without calibration images needs a fixed input size');
  return h;
}

