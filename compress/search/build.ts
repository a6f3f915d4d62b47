// Builds a genome's candidate with the same compress/ functions the ladder's
// recipes use, in the ladder's order: resize → prune (explicit removal counts)
// → factorize (explicit ranks) → fp16 / int8 (calibrated at the genome's
// size). Each function writes its own lineage step; a last 'search' step
// records the genome itself.
import type { CalibrationSet } from '../calibration.js';
import { convertToFp16 } from '../fp16.js';
import { factorizeModel, type FactorizationPlan } from '../factorize/factorize.js';
import { findTargets } from '../factorize/targets.js';
import type { ConvTarget } from '../factorize/layer.js';
import { spatialFactorizer } from '../factorize/spatial.js';
import { lowrankFactorizer } from '../factorize/lowrank.js';
import { modelCost } from '../cost.js';
import { addLineageStep } from '../lineage.js';
import type { Model } from '../onnx/ir.js';
import { pruneModel } from '../prune/prune.js';
import { quantizeModel } from '../quantize/quantize.js';
import { resizeModel } from '../resize.js';
import { genomeKey, parseGenome, type Genome } from './genome.js';
import { DEFAULT_MIN_CHANNELS, type SearchSpace } from './space.js';

export interface BuildContext {
  /** sha256 of the base model file: every lineage step's base. */
  baseSha256: string;
  /** Calibration inputs at a size; with `views`, augmented views fill a few images up (for pruning recovery), as the ladder's StepContext. */
  calibration(size: number, views?: boolean): Promise<CalibrationSet>;
  /** Recover pruning (substitution + recalibration) and recalibrate factorization, as --reconstruct. */
  reconstruct: boolean;
  cacheDir?: string;
}

/** Rank of a factorization that keeps `keep` of the conv's full rank, rounded up to a multiple of 8 (never above full). */
export function rankFor(method: 'spatial' | 'lowrank', cout: number, cin: number, k: number, keep: number): number {
  const full = method === 'spatial' ? Math.min(cout * k, cin * k) : Math.min(cout, cin * k * k);
  return Math.min(full, Math.ceil((keep * full) / 8) * 8);
}

/** The explicit ranks per method for the genome's factor genes, on the model as pruned (a conv pruned below minChannels is left whole). */
export function factorRanks(space: SearchSpace, genome: Genome, targets: ReadonlyMap<string, Pick<ConvTarget, 'cout' | 'cin' | 'k'>>): Map<'spatial' | 'lowrank', Map<string, number>> {
  const out = new Map<'spatial' | 'lowrank', Map<string, number>>();
  space.convs.forEach((c, i) => {
    const option = c.options[genome.factor[i]];
    const t = targets.get(c.name);
    if (!option || !t) return;
    if (!out.has(option.method)) out.set(option.method, new Map());
    out.get(option.method)!.set(c.name, rankFor(option.method, t.cout, t.cin, t.k, option.keep));
  });
  return out;
}

/**
 * A factorization plan of the chosen convs only: planFactorization computes
 * the SVD of every eligible conv, and a genome names a few.
 */
function chosenPlan(model: Model, method: 'spatial' | 'lowrank', minChannels: number, ranks: ReadonlyMap<string, number>): FactorizationPlan {
  const { targets, skipped } = findTargets(model, method, minChannels, undefined, { pointwise: true });
  const chosen = targets.filter((t) => ranks.has(t.name));
  const flops = modelCost(model).flops;
  return {
    method,
    layers: chosen.map((t) => (method === 'spatial' ? spatialFactorizer(t) : lowrankFactorizer(t))),
    dataAware: false,
    skipped,
    modelFlops: flops,
    fixedFlops: flops - chosen.reduce((s, t) => s + t.flops, 0),
  };
}

export async function buildGenome(base: Model, space: SearchSpace, genome: Genome, ctx: BuildContext): Promise<Model> {
  parseGenome(space, genome);
  const { baseSha256 } = ctx;
  let model = genome.size === space.baseSize ? base : resizeModel(base, genome.size, { baseSha256 }).model;
  const removals = space.groups.map((g, k) => g.removals[genome.prune[k]]);
  if (removals.some((r) => r > 0)) {
    const calibration = ctx.reconstruct ? await ctx.calibration(genome.size, true) : undefined;
    model = (await pruneModel(model, { method: 'l1', reduction: 'mean', removals, reconstruct: ctx.reconstruct, calibration, baseSha256, cacheDir: ctx.cacheDir })).model;
  }
  if (genome.factor.some((f) => f > 0)) {
    const minChannels = space.minChannels ?? DEFAULT_MIN_CHANNELS;
    // low-rank with 1×1 convs finds every conv either method could take (channel counts and kernels are all the ranks need)
    const byMethod = factorRanks(space, genome, new Map(findTargets(model, 'lowrank', minChannels, undefined, { pointwise: true }).targets.map((t) => [t.name, t])));
    for (const [method, ranks] of byMethod) {
      const calibration = ctx.reconstruct ? await ctx.calibration(genome.size) : undefined;
      model = (await factorizeModel(model, { method, flopsCut: 0, ranks, minChannels, plan: chosenPlan(model, method, minChannels, ranks), ...(calibration ? { recalibrate: { calibration } } : {}), baseSha256 })).model;
    }
  }
  if (genome.precision === 'fp16') model = convertToFp16(model, { baseSha256 }).model;
  else if (genome.precision === 'int8') model = (await quantizeModel(model, await ctx.calibration(genome.size), { baseSha256 })).model;
  if (model === base) model = structuredClone(base);
  addLineageStep(model, baseSha256, 'search', { genome, key: genomeKey(genome) });
  return model;
}
