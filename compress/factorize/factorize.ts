// Conv factorization of a whole model: find the eligible convs, offer each
// method's ranks per layer, allocate ranks to meet a FLOPs cut, rewrite the
// graph, optionally refit, and check the result. The output is a plain float
// ONNX model with its lineage, ready for int8/fp16/input-size variants.
import path from 'node:path';
import type { Model } from '../onnx/ir.js';
import { addLineageStep, sha256Hex } from '../lineage.js';
import { writeModel } from '../onnx/write.js';
import { removeDeadCode } from '../onnx/graph.js';
import { assertWellFormed } from '../onnx/check.js';
import { modelCost } from '../cost.js';
import type { CalibrationSet } from '../calibration.js';
import { findTargets, type SkippedConv } from './targets.js';
import { allocateByEnergy, allocateByError, minimumFlops, type LayerChoice } from './allocate.js';
import { applyFactorization, type RewrittenLayer } from './rewrite.js';
import { refitLastConvs, type LayerRefit, type RefitOptions } from './refit.js';
import { spatialFactorizer } from './spatial.js';
import { dwsFactorizer } from './dws.js';
import { lowrankFactorizer } from './lowrank.js';
import { groupedFactorizer } from './grouped.js';
import { allocateFromSensitivity, measureSensitivity, SENSITIVITY_LEVELS, type LayerSensitivity } from './sensitivity-profile.js';
import { factorizeSequentially } from './asymmetric.js';
import { collectPatchStatistics, hasDataAwareVariant, type PatchStatistics } from './input-stats.js';
import { buildDependencyGraph } from '../prune/dependency.js';
import { recalibrateIfBetter, type GuardedRecalibration } from '../prune/recalibrate.js';
import type { ConvTarget, FactorMethod, LayerFactorizer } from './layer.js';
import { codedError } from '../../protocol/errors.js';

export class FactorizeError extends codedError('E_FACTORIZE') {
  override name = 'FactorizeError';
}

const FACTORIZERS: Record<FactorMethod, (t: ConvTarget, stats?: PatchStatistics) => LayerFactorizer> = {
  spatial: spatialFactorizer,
  dws: dwsFactorizer,
  lowrank: lowrankFactorizer,
  grouped: groupedFactorizer,
};

export interface FactorizationPlan {
  method: FactorMethod;
  layers: LayerFactorizer[];
  /** Whether the SVDs were whitened by calibration input statistics. */
  dataAware: boolean;
  skipped: SkippedConv[];
  /** FLOPs of the whole model and of what factorization cannot touch. */
  modelFlops: number;
  fixedFlops: number;
}

/**
 * Every eligible conv with its rank options (the SVDs are computed here,
 * once). With patch statistics by conv name the SVDs are data-aware.
 */
export function planFactorization(model: Model, method: FactorMethod, minChannels = 64, statistics?: ReadonlyMap<string, PatchStatistics>): FactorizationPlan {
  const cost = modelCost(model);
  if (cost.unknownShapes.length) throw new FactorizeError(`shapes of ${cost.unknownShapes.length} convs are unknown (first: ${cost.unknownShapes[0]}); a static input size is needed`);
  const { targets, skipped } = findTargets(model, method, minChannels);
  const layers = targets.map((t) => FACTORIZERS[method](t, statistics?.get(t.name)));
  const eligible = layers.reduce((s, l) => s + l.target.flops, 0);
  return { method, layers, dataAware: Boolean(statistics && targets.some((t) => statistics.has(t.name))), skipped, modelFlops: cost.flops, fixedFlops: cost.flops - eligible };
}

/** A plan whose SVDs are whitened by the input-patch covariance of every layer on the calibration images. */
export async function planDataAware(model: Model, method: FactorMethod, calibration: CalibrationSet, minChannels = 64): Promise<FactorizationPlan> {
  if (calibration.inputs.length === 0) throw new FactorizeError('data-aware factorization needs calibration images');
  const { targets } = findTargets(model, method, minChannels);
  const statistics = await collectPatchStatistics(model, targets, method, calibration);
  return planFactorization(model, method, minChannels, statistics);
}

export interface FactorizeOptions {
  method: FactorMethod;
  /** Fraction of the model's FLOPs to remove, in (0, 1). */
  flopsCut: number;
  minChannels?: number;
  /** Explicit ranks by conv name instead of an allocation (layers not named keep their conv). */
  ranks?: ReadonlyMap<string, number>;
  refit?: { calibration: CalibrationSet } & RefitOptions;
  /** A plan computed earlier for the same model and method (the SVDs are the slow part). */
  plan?: FactorizationPlan;
  /**
   * Data-aware SVDs from these images (the plan's, unless `plan` is given;
   * dws and grouped have no such variant). With `asymmetric`, the allocated
   * layers are then factorized wave by wave against their inputs in the model
   * factorized so far (off by default: on YOLOv8n it did worse than the
   * symmetric fit in calibration-set CV, fitting two images' errors).
   */
  dataAware?: { calibration: CalibrationSet; asymmetric?: boolean };
  /**
   * 'energy': one kept-energy level in every layer (the default for weight
   * SVDs); 'error': least relative output error per FLOP saved (the default
   * for data-aware plans, whose energies are output errors: on YOLOv8n it
   * halved the output error of a 20% spatial cut in calibration-set CV).
   */
  allocation?: 'energy' | 'error';
  /** Allocate by measured per-layer sensitivity on these images instead of one energy level. */
  sensitivity?: { calibration: CalibrationSet; onProgress?: (done: number, total: number) => void };
  /**
   * Last, restore the original per-channel mean and spread of every conv
   * output the factorization rewrote and of every conv after one, kept only
   * where the agreement on these images improves (compress/prune/recalibrate.ts).
   * On the fixture YOLOv8n it lifts dws at 30% without a refit from 0.45 to
   * 0.66 held-out fidelity on 263 boxes (four calibration images); after a
   * refit it mostly finds little to gain.
   */
  recalibrate?: { calibration: CalibrationSet };
  /** sha256 of the base model file, the lineage's base (default: the hash of `model` as written). */
  baseSha256?: string;
}

export interface FactorizedLayer {
  name: string;
  rank: number;
  exactRank: number;
  /** Fraction of ‖W‖² the factorization keeps, or of the output variance on calibration inputs for data-aware plans (before any refit). */
  energy: number;
  flopsBefore: number;
  flopsAfter: number;
  refit?: LayerRefit;
}

export interface FactorizeReport {
  method: FactorMethod;
  targetCut: number;
  flopsBefore: number;
  flopsAfter: number;
  /** Achieved cut, measured by the cost model on the output. */
  cut: number;
  /** The common retained-energy level of the allocation, the lowest kept by any layer for 'error' (absent with explicit ranks). */
  energyLevel?: number;
  allocation: 'explicit' | 'energy' | 'error' | 'sensitivity';
  /** Whether ranks and energies come from data-aware (input-whitened) SVDs. */
  dataAware: boolean;
  /** Whether the factors were fitted asymmetrically, wave by wave. */
  asymmetric: boolean;
  /** Per-layer losses measured for --sensitivity. */
  sensitivity?: LayerSensitivity[];
  /** ‖W‖²-weighted mean of the layers' `energy`. */
  energyKept: number;
  layers: FactorizedLayer[];
  skipped: SkippedConv[];
  refit: boolean;
  recalibration?: GuardedRecalibration;
}

function explicitChoices(plan: FactorizationPlan, ranks: ReadonlyMap<string, number>): LayerChoice[] {
  const known = new Set(plan.layers.map((l) => l.target.name));
  for (const name of ranks.keys()) if (!known.has(name)) throw new FactorizeError(`no factorizable conv named '${name}'`);
  return plan.layers
    .filter((l) => ranks.has(l.target.name))
    .map((layer) => {
      const rank = ranks.get(layer.target.name)!;
      const option = layer.options.find((o) => o.rank === rank) ?? { rank, flops: NaN, energy: rank === layer.exactRank ? 1 : NaN };
      return { layer, option };
    });
}

export async function factorizeModel(model: Model, options: FactorizeOptions): Promise<{ model: Model; report: FactorizeReport }> {
  const { method, flopsCut } = options;
  if (!(flopsCut > 0 && flopsCut < 1) && !options.ranks) throw new FactorizeError(`the FLOPs cut must be in (0, 1), got ${flopsCut}`);
  const plan = options.plan ?? (options.dataAware && hasDataAwareVariant(method) ? await planDataAware(model, method, options.dataAware.calibration, options.minChannels) : planFactorization(model, method, options.minChannels));
  if (plan.layers.length === 0) throw new FactorizeError(`no conv is eligible for ${method} factorization (${plan.skipped.length} skipped${plan.skipped[0] ? `, e.g. ${plan.skipped[0].name}: ${plan.skipped[0].reason}` : ''})`);
  const allocationKind = options.allocation ?? (plan.dataAware ? 'error' : 'energy');
  let choices: LayerChoice[];
  let energyLevel: number | undefined;
  let sensitivity: LayerSensitivity[] | undefined;
  if (options.ranks) choices = explicitChoices(plan, options.ranks);
  else if (options.sensitivity) {
    sensitivity = await measureSensitivity(model, plan.layers, options.sensitivity.calibration, options.sensitivity.onProgress);
    const picked = allocateFromSensitivity(plan.layers, sensitivity, flopsCut * plan.modelFlops);
    if (!picked) throw new FactorizeError(`a ${(flopsCut * 100).toFixed(1)}% FLOPs cut is out of reach for ${method} at the measured sensitivity levels (lowest energy level ${SENSITIVITY_LEVELS.at(-1)})`);
    choices = picked.filter((c) => c.option);
  } else {
    const budget = (1 - flopsCut) * plan.modelFlops - plan.fixedFlops;
    const floor = minimumFlops(plan.layers);
    if (floor > budget) {
      const best = 1 - (plan.fixedFlops + floor) / plan.modelFlops;
      throw new FactorizeError(`a ${(flopsCut * 100).toFixed(1)}% FLOPs cut is out of reach for ${method} on this model: at most ${(best * 100).toFixed(1)}% (${plan.layers.length} eligible convs)`);
    }
    const allocation = allocationKind === 'error' ? allocateByError(plan.layers, budget) : allocateByEnergy(plan.layers, budget);
    choices = allocation.choices.filter((c) => c.option);
    energyLevel = allocation.energyLevel;
  }
  const out = structuredClone(model);
  const rewritten: RewrittenLayer[] = [];
  const layers: FactorizedLayer[] = [];
  const asymmetric = plan.dataAware && options.dataAware?.asymmetric === true;
  if (asymmetric) {
    const sequential = choices.map(({ layer, option }) => ({ layer, rank: option!.rank }));
    rewritten.push(...(await factorizeSequentially(model, out, method, sequential, options.dataAware!.calibration, FACTORIZERS[method])));
  }
  for (const { layer, option } of choices) {
    if (!asymmetric) rewritten.push(applyFactorization(out.graph, layer.target.name, layer.build(option!.rank)));
    layers.push({ name: layer.target.name, rank: option!.rank, exactRank: layer.exactRank, energy: option!.energy, flopsBefore: layer.target.flops, flopsAfter: option!.flops });
  }
  removeDeadCode(out.graph);
  if (options.refit) {
    const fits = await refitLastConvs(model, out, rewritten, options.refit.calibration, options.refit);
    for (const f of fits) layers.find((l) => l.name === f.layer)!.refit = f;
  }
  let result = out;
  let recalibration: GuardedRecalibration | undefined;
  if (options.recalibrate) {
    const rewrittenOutputs = new Set(rewritten.map((r) => r.output));
    ({ model: result, report: recalibration } = await recalibrateIfBetter(buildDependencyGraph(model), { rewritten: rewrittenOutputs }, out, options.recalibrate.calibration));
  }
  assertWellFormed(result, `the ${method}-factorized model`);
  const after = modelCost(result).flops;
  const weight = (l: FactorizedLayer) => plan.layers.find((p) => p.target.name === l.name)!.target.weight.reduce((s, v) => s + v * v, 0);
  const totalWeight = layers.reduce((s, l) => s + weight(l), 0);
  const report: FactorizeReport = {
    method,
    targetCut: flopsCut,
    flopsBefore: plan.modelFlops,
    flopsAfter: after,
    cut: 1 - after / plan.modelFlops,
    energyLevel,
    allocation: options.ranks ? 'explicit' : sensitivity ? 'sensitivity' : allocationKind,
    dataAware: plan.dataAware,
    asymmetric: Boolean(asymmetric),
    ...(sensitivity ? { sensitivity } : {}),
    energyKept: totalWeight > 0 ? layers.reduce((s, l) => s + weight(l) * l.energy, 0) / totalWeight : 1,
    layers,
    skipped: plan.skipped,
    refit: Boolean(options.refit),
    ...(recalibration ? { recalibration } : {}),
  };
  addLineageStep(result, options.baseSha256 ?? sha256Hex(writeModel(model)), 'factorize', lineageParams(options, report));
  return { model: result, report };
}

/** The one lineage step every caller of factorizeModel records. */
function lineageParams(o: FactorizeOptions, report: FactorizeReport): Record<string, unknown> {
  const calibration = o.dataAware?.calibration ?? o.refit?.calibration ?? o.sensitivity?.calibration ?? o.recalibrate?.calibration;
  return {
    method: o.method,
    flopsCut: o.flopsCut,
    cut: report.cut,
    minChannels: o.minChannels ?? 64,
    allocation: report.allocation,
    dataAware: report.dataAware,
    asymmetric: report.asymmetric,
    energyLevel: report.energyLevel,
    energyKept: report.energyKept,
    refit: report.refit,
    recalibrated: !!report.recalibration?.applied,
    ranks: Object.fromEntries(report.layers.map((l) => [l.name, l.rank])),
    energy: Object.fromEntries(report.layers.map((l) => [l.name, Number(l.energy.toFixed(6))])),
    ...(calibration ? { calibration: calibration.files.map((f) => path.basename(f)) } : {}),
  };
}
