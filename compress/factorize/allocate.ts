// Rank allocation across layers. Default: one retained-energy level e for
// every layer (each takes its cheapest rank keeping ≥ e of ‖W‖², or stays
// unfactorized when no rank cheaper than the conv does), with e found by
// bisection as the highest level whose total FLOPs fit the budget. Channel
// ranks are then rounded to multiples of 8 (friendlier to SIMD and GPU
// kernels) wherever that keeps the total within budget.
import { allocateBySensitivity } from '../sensitivity.js';
import type { LayerFactorizer, RankOption } from './layer.js';
import { EdgefitError } from '../../protocol/errors.js';

export interface LayerChoice {
  layer: LayerFactorizer;
  /** null: the layer keeps its original conv. */
  option: RankOption | null;
}

export interface Allocation {
  choices: LayerChoice[];
  /** The common energy level found by bisection. */
  energyLevel: number;
  /** Total FLOPs of the allocated layers. */
  flops: number;
}

function cheapestAt(layer: LayerFactorizer, level: number): RankOption | null {
  let best: RankOption | null = null;
  for (const o of layer.options) if (o.energy >= level && (!best || o.flops < best.flops)) best = o;
  return best;
}

const flopsOf = (c: LayerChoice) => c.option?.flops ?? c.layer.target.flops;

/** The cheapest each layer can be: the floor a budget must clear. */
export function minimumFlops(layers: readonly LayerFactorizer[]): number {
  return layers.reduce((s, l) => s + Math.min(l.target.flops, ...l.options.map((o) => o.flops)), 0);
}

/** Allocates ranks so the layers' total FLOPs stay ≤ budget with the most energy everywhere. */
export function allocateByEnergy(layers: readonly LayerFactorizer[], budget: number): Allocation {
  const floor = minimumFlops(layers);
  if (floor > budget) throw new EdgefitError('E_FACTORIZE_ALLOCATION', { reason: `the budget of ${(budget / 1e9).toFixed(3)} GFLOPs for these layers is below their minimum of ${(floor / 1e9).toFixed(3)}` });
  const at = (level: number) => layers.map((layer) => ({ layer, option: cheapestAt(layer, level) }));
  const total = (cs: LayerChoice[]) => cs.reduce((s, c) => s + flopsOf(c), 0);
  let lo = 0;
  let hi = 1;
  if (total(at(hi)) <= budget) lo = hi;
  for (let it = 0; it < 60 && hi - lo > 1e-12; it++) {
    const mid = (lo + hi) / 2;
    if (total(at(mid)) <= budget) lo = mid;
    else hi = mid;
  }
  const choices = roundToEight(at(lo), budget);
  return { choices, energyLevel: lo, flops: total(choices) };
}

function optionAt(layer: LayerFactorizer, rank: number): RankOption | undefined {
  return layer.options.find((o) => o.rank === rank);
}

/**
 * Rounds channel ranks to the nearest multiple of 8; a round-up that would
 * break the budget is rounded down instead, least energy lost per FLOP first.
 * Ranks below 8 may round up to 8 and otherwise stay as they are.
 */
export function roundToEight(choices: LayerChoice[], budget: number): LayerChoice[] {
  const out = choices.map((c) => ({ ...c }));
  const ups: { i: number; down: RankOption }[] = [];
  out.forEach((c, i) => {
    if (!c.layer.channelRank || !c.option || c.option.rank % 8 === 0) return;
    const r = c.option.rank;
    const down = optionAt(c.layer, Math.floor(r / 8) * 8) ?? c.option;
    const up = optionAt(c.layer, Math.ceil(r / 8) * 8);
    if (up && (r % 8 >= 4 || down === c.option)) {
      out[i].option = up;
      ups.push({ i, down });
    } else out[i].option = down;
  });
  let total = out.reduce((s, c) => s + flopsOf(c), 0);
  const lossPerFlop = (u: { i: number; down: RankOption }) => {
    const cur = out[u.i].option!;
    return (cur.energy - u.down.energy) / Math.max(cur.flops - u.down.flops, 1);
  };
  ups.sort((a, b) => lossPerFlop(a) - lossPerFlop(b));
  for (const u of ups) {
    if (total <= budget) break;
    total -= out[u.i].option!.flops - u.down.flops;
    out[u.i].option = u.down;
  }
  return out;
}

/**
 * Allocates ranks by relative error per FLOP saved: each layer's loss at a
 * rank is 1 − its kept energy (for data-aware energies, its relative output
 * error on calibration inputs), and the greedy allocator of
 * compress/sensitivity.ts spends the saving where that loss grows slowest.
 * Unlike one common energy level, a layer whose spectrum falls off fast gives
 * more and one that is hard to approximate is left closer to whole.
 */
export function allocateByError(layers: readonly LayerFactorizer[], budget: number): Allocation {
  const floor = minimumFlops(layers);
  if (floor > budget) throw new EdgefitError('E_FACTORIZE_ALLOCATION', { reason: `the budget of ${(budget / 1e9).toFixed(3)} GFLOPs for these layers is below their minimum of ${(floor / 1e9).toFixed(3)}` });
  const ladders = layers.map((l) => [...l.options].sort((a, b) => b.flops - a.flops));
  const units = layers.map((l, i) => ({ levels: ladders[i].map((o) => ({ saving: l.target.flops - o.flops, loss: 1 - o.energy })) }));
  const total = layers.reduce((s, l) => s + l.target.flops, 0);
  const alloc = allocateBySensitivity(units, Math.max(0, total - budget));
  const choices = roundToEight(
    layers.map((layer, i) => ({ layer, option: alloc.levels[i] === 0 ? null : ladders[i][alloc.levels[i] - 1] })),
    budget,
  );
  const flops = choices.reduce((s, c) => s + flopsOf(c), 0);
  const kept = choices.filter((c) => c.option).map((c) => c.option!.energy);
  return { choices, energyLevel: kept.length ? Math.min(...kept) : 1, flops };
}
