// The search space over a base model: input sizes, precisions, per prune group
// a few removal counts, per factorizable conv a few rank steps. Every gene is
// ordinal (index 0 = the base model's choice, higher = a harder cut), so a
// mutation moves one step and the driver's fidelity proxy can read a measured
// loss for every value.
import type { Model } from '../onnx/ir.js';
import type { Precision } from '../latency/features.js';
import { allowedRemoval } from '../prune/allocate.js';
import { buildDependencyGraph } from '../prune/dependency.js';
import { buildGroups } from '../prune/groups.js';
import { DEFAULT_FRACTIONS, type SensitivityProfile } from '../prune/sensitivity-profile.js';
import { findTargets } from '../factorize/targets.js';
import { modelInputSize } from '../calibration.js';
import { SearchSpaceError } from './errors.js';

export type FactorOption = { method: 'spatial' | 'lowrank'; keep: number } | null;

export interface SearchSpace {
  /** The base model's input size. */
  baseSize: number;
  /** Allowed input sizes, multiples of 32, descending, baseSize first. */
  sizes: number[];
  precisions: Precision[];
  /** Prune groups (compress/prune/groups.ts order); removals[0] = 0, the others the removal counts the prune sensitivity profile measured for that group. A frozen group has removals [0]. */
  groups: { name: string; units: number; removals: number[] }[];
  /** Factorizable convs; options[0] = none, the others a factorization of that conv at a rank step. */
  convs: { name: string; options: FactorOption[] }[];
  /** The least channels in and out a conv needs to stay factorizable once pruned (default 64). */
  minChannels?: number;
}

export interface SpaceOptions {
  sizes: number[];
  precisions: Precision[];
  /** The prune sensitivity profile of the base model (l1, mean reduction): its measured removal counts become the gene values. */
  pruneProfile?: SensitivityProfile;
  /**
   * Factorization genes: spatial (1×k then k×1) for every k×k conv with at
   * least `minChannels` (64, as `edgefit factorize`) channels in and out, at
   * these fractions of its full rank. Spatial at rank r costs r·k·(C_in+C_out)
   * per pixel against C_in·C_out·k² for the conv, so with C_in = C_out = C and
   * full rank C·k, keep 0.5 saves nothing; 0.25 halves the conv and 0.125
   * quarters it. `false` leaves factorization out of the space.
   */
  factor?: false | { keeps?: number[]; minChannels?: number };
}

export const DEFAULT_FACTOR_KEEPS = [0.25, 0.125] as const;
export const DEFAULT_MIN_CHANNELS = 64;

export function searchSpace(base: Model, o: SpaceOptions): SearchSpace {
  const baseSize = modelInputSize(base);
  const sizes = [...new Set(o.sizes)].sort((a, b) => b - a);
  if (sizes.length === 0 || sizes.some((s) => !Number.isInteger(s) || s <= 0 || s % 32 !== 0)) throw new SearchSpaceError(`sizes must be positive multiples of 32, got ${o.sizes.join(', ')}`);
  if (sizes[0] !== baseSize) throw new SearchSpaceError(`the largest size must be the base model's input size ${baseSize}, got ${sizes[0]}`);
  const precisions = [...new Set(o.precisions)];
  if (precisions[0] !== 'fp32') throw new SearchSpaceError(`precisions must start with fp32 (the base model), got ${o.precisions.join(', ')}`);
  const index = buildGroups(buildDependencyGraph(base));
  if (o.pruneProfile && o.pruneProfile.groups.length !== index.groups.length) {
    throw new SearchSpaceError(`the prune sensitivity profile has ${o.pruneProfile.groups.length} groups, the model ${index.groups.length}: it was measured on another model`);
  }
  const groups = index.groups.map((g, k) => {
    const n = g.units.length;
    // Without a profile: the counts measureSensitivity would measure (25% and 50%, rounded to 8, at most 90%).
    const counts = o.pruneProfile ? o.pruneProfile.groups[k].levels.map((l) => l.removed) : DEFAULT_FRACTIONS.map((f) => allowedRemoval(n, Math.floor(f * n + 1e-9), 8, 0.9));
    return { name: g.name, units: n, removals: [0, ...[...new Set(counts)].filter((c) => c > 0 && c < n).sort((a, b) => a - b)] };
  });
  const convs: SearchSpace['convs'] = [];
  if (o.factor !== false) {
    const keeps = [...(o.factor?.keeps ?? DEFAULT_FACTOR_KEEPS)].sort((a, b) => b - a);
    if (keeps.some((k) => !(k > 0 && k < 1))) throw new SearchSpaceError(`factorization keeps must be in (0, 1), got ${keeps.join(', ')}`);
    for (const t of findTargets(base, 'spatial', o.factor?.minChannels ?? DEFAULT_MIN_CHANNELS).targets) {
      convs.push({ name: t.name, options: [null, ...keeps.map((keep) => ({ method: 'spatial' as const, keep }))] });
    }
  }
  return { baseSize, sizes, precisions, groups, convs, minChannels: o.factor === false ? DEFAULT_MIN_CHANNELS : o.factor?.minChannels ?? DEFAULT_MIN_CHANNELS };
}
