// The first population (compress/search/seeds.ts): plain size × precision
// genomes, then the sensitivity allocator's plans as genomes, at most two
// thirds of the population.
import { describe, expect, it } from 'vitest';
import { buildYolov8 } from '../../../compress/yolo/builder.js';
import { buildDependencyGraph } from '../../../compress/prune/dependency.js';
import { buildGroups } from '../../../compress/prune/groups.js';
import { groupImportance } from '../../../compress/prune/importance.js';
import { sensitivityPlan, type SensitivityProfile } from '../../../compress/prune/sensitivity-profile.js';
import { searchSpace } from '../../../compress/search/space.js';
import { allocatorPrunes, seededProblem, seedGenomes, SEEDED_CUTS } from '../../../compress/search/seeds.js';
import type { SearchProblem } from '../../../compress/search/nsga2.js';

const base = buildYolov8({ scale: 'n', imgsz: 96 });
const index = buildGroups(buildDependencyGraph(base));
// two measured levels per group (8 and 16 units, where the group has them), each group's loss its own: group k costs (k + 1) / 100 per level
const profile: SensitivityProfile = {
  key: 'k',
  groups: index.groups.map((g, k) => ({
    group: g.name,
    units: g.units.length,
    levels: [8, 16].filter((r) => r < g.units.length).map((removed, l) => ({ removed, fidelity: 1, discrepancy: 0, loss: ((k + 1) * (l + 1)) / 100 })),
  })),
};
const space = searchSpace(base, { sizes: [96, 64], precisions: ['fp32', 'int8'], pruneProfile: profile, factor: false });

describe('seed genomes', () => {
  it("maps the allocator's plan onto the genome's levels: each group's removal count is the plan's", () => {
    const importance = index.groups.map((g) => groupImportance(index, g, { method: 'l1', reduction: 'mean', seed: 0 }));
    const prunes = allocatorPrunes(base, space, profile, SEEDED_CUTS);
    for (const [c, cut] of SEEDED_CUTS.entries()) {
      const prune = prunes[c];
      const plan = sensitivityPlan(index, importance, profile, cut);
      expect(prune.map((l, k) => space.groups[k].removals[l]), `cut ${cut}`).toEqual(plan.removedPerGroup);
      expect(prune.some((l) => l > 0), `cut ${cut}`).toBe(true);
    }
    // a deeper cut removes at least as much in all
    const [light, deep] = allocatorPrunes(base, space, profile, [0.1, 0.3]);
    const total = (prune: number[]) => prune.reduce((s, l, k) => s + space.groups[k].removals[l], 0);
    expect(total(deep)).toBeGreaterThan(total(light));
  });

  it('starts with every plain size × precision, then the allocated plans at the base size for each precision', () => {
    const seeds = seedGenomes(base, space, profile);
    const plain = seeds.slice(0, 4);
    expect(plain.map((g) => `${g.precision} ${g.size}`)).toEqual(['fp32 96', 'int8 96', 'fp32 64', 'int8 64']);
    expect(plain.every((g) => g.prune.every((l) => l === 0) && g.factor.every((f) => f === 0))).toBe(true);
    const allocated = seeds.slice(4);
    expect(allocated).toHaveLength(SEEDED_CUTS.length * 2);
    expect(allocated.every((g) => g.size === 96 && g.prune.some((l) => l > 0))).toBe(true);
    expect(allocated.map((g) => g.precision)).toEqual(SEEDED_CUTS.flatMap(() => ['fp32', 'int8']));
    expect(allocated[0].prune).toEqual(allocatorPrunes(base, space, profile, SEEDED_CUTS)[0]);
  });

  it('draws the seeds first, at most two thirds of the population, then random ones', () => {
    const problem = { random: () => -1 } as unknown as SearchProblem<number>;
    const seeded = seededProblem(problem, [1, 2, 3, 4, 5, 6, 7], 9);
    const rng = () => 0.5;
    expect(Array.from({ length: 9 }, () => seeded.random(rng))).toEqual([1, 2, 3, 4, 5, 6, -1, -1, -1]);
  });
});
