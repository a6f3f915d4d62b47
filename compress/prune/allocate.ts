// How many units each group loses: one ratio for every group (local), one
// importance threshold across groups (global), or whatever ratio or threshold
// reaches a FLOPs cut. Rounding keeps channel counts at multiples of round-to
// by keeping more, never by pruning more than asked.
import { convFlops, type GroupIndex } from './groups.js';
import { EdgefitError } from '../../protocol/errors.js';

export interface AllocationOptions {
  /** Fraction of each group's channels to remove, or... */
  ratio?: number;
  /** ...the fraction of conv FLOPs to remove. */
  flopsCut?: number;
  global?: boolean;
  roundTo?: number;
  /** No group loses more than this fraction of its channels. */
  maxLayerRatio?: number;
  /** Groups that keep every channel (ignored by name pattern, or fragile). */
  frozen?: ReadonlySet<number>;
}

export interface Plan {
  /** Units removed per group id. */
  removedPerGroup: number[];
  /** Component roots to remove. */
  removed: Set<number>;
  flopsBefore: number;
  flopsAfter: number;
}

/** Units a group of `n` may lose when `wanted` are asked for. */
export function allowedRemoval(n: number, wanted: number, roundTo: number, maxLayerRatio: number): number {
  const cap = Math.floor(maxLayerRatio * n + 1e-9);
  let keep = n - Math.max(0, Math.min(wanted, cap, n - 1));
  if (roundTo > 1) keep = Math.min(n, Math.ceil(keep / roundTo) * roundTo);
  return n - Math.max(1, keep);
}

/** The plan that removes, in every group, its `counts[g]` least important units. */
export function planFromCounts(index: GroupIndex, importance: Float64Array[], counts: number[]): Plan {
  const removed = new Set<number>();
  index.groups.forEach((grp, g) => {
    const order = [...grp.units.keys()].sort((a, b) => importance[g][a] - importance[g][b] || a - b);
    for (let k = 0; k < counts[g]; k++) removed.add(grp.units[order[k]]);
  });
  const full = index.groups.map((grp) => grp.units.length);
  return {
    removedPerGroup: counts,
    removed,
    flopsBefore: convFlops(index, full),
    flopsAfter: convFlops(index, full.map((n, g) => n - counts[g])),
  };
}

function localCounts(index: GroupIndex, ratio: number, o: Required<Omit<AllocationOptions, 'ratio' | 'flopsCut'>>): number[] {
  return index.groups.map((grp, g) => {
    if (o.frozen.has(g)) return 0;
    const n = grp.units.length;
    return allowedRemoval(n, Math.floor(ratio * n + 1e-9), o.roundTo, o.maxLayerRatio);
  });
}

function globalCounts(index: GroupIndex, importance: Float64Array[], fraction: number, o: Required<Omit<AllocationOptions, 'ratio' | 'flopsCut'>>): number[] {
  const all: { g: number; score: number }[] = [];
  index.groups.forEach((_, g) => {
    if (!o.frozen.has(g)) for (const s of importance[g]) all.push({ g, score: s });
  });
  all.sort((a, b) => a.score - b.score);
  const wanted = new Array<number>(index.groups.length).fill(0);
  const take = Math.floor(fraction * all.length + 1e-9);
  for (let k = 0; k < take; k++) wanted[all[k].g]++;
  return index.groups.map((grp, g) => allowedRemoval(grp.units.length, wanted[g], o.roundTo, o.maxLayerRatio));
}

/** Allocates a ratio or a FLOPs cut over the groups and picks the least important units. */
export function allocate(index: GroupIndex, importance: Float64Array[], options: AllocationOptions): Plan {
  const o = { global: options.global ?? false, roundTo: options.roundTo ?? 8, maxLayerRatio: options.maxLayerRatio ?? 0.9, frozen: options.frozen ?? new Set<number>() };
  const counts = (x: number) => (o.global ? globalCounts(index, importance, x, o) : localCounts(index, x, o));
  if (options.flopsCut === undefined) return planFromCounts(index, importance, counts(options.ratio ?? 0));
  const full = index.groups.map((grp) => grp.units.length);
  const before = convFlops(index, full);
  const target = before * (1 - options.flopsCut);
  const flopsAt = (x: number) => convFlops(index, full.map((n, g) => n - counts(x)[g]));
  if (flopsAt(1) > target) {
    throw new EdgefitError('E_PRUNE_ALLOCATION', { reason: `a ${(options.flopsCut * 100).toFixed(1)}% FLOPs cut is out of reach: with --max-layer-ratio ${o.maxLayerRatio} and --round-to ${o.roundTo} at most ${((1 - flopsAt(1) / before) * 100).toFixed(1)}% can go` });
  }
  // Smallest ratio (or global fraction) that reaches the target: FLOPs fall monotonically with it.
  let lo = 0, hi = 1;
  for (let i = 0; i < 40; i++) {
    const mid = (lo + hi) / 2;
    if (flopsAt(mid) <= target) hi = mid;
    else lo = mid;
  }
  return planFromCounts(index, importance, counts(hi));
}
