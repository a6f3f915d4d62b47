// The search's first population: where NSGA-II starts. Plain size × precision
// genomes, then the sensitivity allocator's own plans at a few FLOPs cuts
// (the ladder's prune recipes: compress/prune/sensitivity-profile.ts
// sensitivityPlan on the same l1 profile the genome's levels come from), so
// that the front starts from what the fixed ladder builds and can only
// improve on it under the proxy, then random genomes.
import type { Model } from '../onnx/ir.js';
import { sensitivityPlan, type SensitivityProfile } from '../prune/sensitivity-profile.js';
import { baseGenome, type Genome } from './genome.js';
import type { SearchProblem } from './nsga2.js';
import type { SearchSpace } from './space.js';
import { searchImportance } from './terms.js';

/** The allocator's FLOPs cuts seeded at the base size. */
export const SEEDED_CUTS = [0.1, 0.2, 0.3] as const;

/**
 * The sensitivity allocator's plan at each of `cuts` as a genome's prune part:
 * per group the index of its removal count among the space's levels (the
 * allocator picks only measured levels; a frozen group stays whole).
 */
export function allocatorPrunes(base: Model, space: SearchSpace, profile: SensitivityProfile, cuts: readonly number[]): number[][] {
  const { index, importance } = searchImportance(base);
  return cuts.map((cut) => {
    const counts = sensitivityPlan(index, importance, profile, cut).removedPerGroup;
    return space.groups.map((g, k) => Math.max(0, g.removals.indexOf(counts[k])));
  });
}

/**
 * The seed genomes, plain ones first: every size × precision with nothing cut,
 * then at the base size and each precision the allocator's plan at each of
 * SEEDED_CUTS. Without the plain seeds, random genomes (about half the
 * groups cut, predicted loss 15-30 on the fixture) never walked back to the
 * unpruned region in 40 generations: a measured front spanned only int8 320
 * genomes. Without the allocator's, the front at 640 stopped at shallow cuts
 * (5 groups, 27.5 ms predicted against 30.9 ms for int8 640) while the
 * ladder's prune25-int8 (8 groups) kept 0.901 held out at 0.467× fp32.
 */
export function seedGenomes(base: Model, space: SearchSpace, profile: SensitivityProfile): Genome[] {
  const zero = baseGenome(space);
  const plain = space.sizes.flatMap((size) => space.precisions.map((precision) => ({ ...zero, size, precision })));
  const plans = allocatorPrunes(base, space, profile, SEEDED_CUTS).filter((prune) => prune.some((l) => l > 0));
  const allocated = plans.flatMap((prune) => space.precisions.map((precision) => ({ ...zero, precision, prune })));
  return [...plain, ...allocated];
}

/**
 * A problem whose first `random` draws are the seeds (at most two thirds of
 * the population, so random genomes keep a third), then random ones. Used by
 * initNsga2 only, so a resumed run steps exactly as a straight one.
 */
export function seededProblem<G>(problem: SearchProblem<G>, seeds: readonly G[], populationSize: number): SearchProblem<G> {
  const first = seeds.slice(0, Math.floor((2 * populationSize) / 3));
  let next = 0;
  return { ...problem, random: (rng) => (next < first.length ? first[next++] : problem.random(rng)) };
}
