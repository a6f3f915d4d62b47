// Rank allocation against its definitions, on hand-made layer ladders, with
// the expected choices found by enumerating every combination (a few lines
// written from the definition, not the allocator):
// - by energy: the highest common level e whose choices fit the budget, each
//   layer taking its cheapest rank keeping ≥ e of its energy (or staying whole);
// - by error: the combination within budget with the least summed loss
//   (1 − energy), which the greedy loss-per-FLOP allocator must find on these
//   convex ladders.
import { describe, expect, it } from 'vitest';
import { allocateByEnergy, allocateByError, roundToEight } from '../../../compress/factorize/allocate.js';
import type { LayerFactorizer, RankOption } from '../../../compress/factorize/layer.js';

function layer(name: string, flops: number, options: RankOption[]): LayerFactorizer {
  return { target: { name, flops } as LayerFactorizer['target'], method: 'lowrank', options, exactRank: 99, channelRank: false, build: () => ({ convs: [] }) };
}

// Three convs of 1000 FLOPs; rank r costs 200·r. `easy` keeps most energy at
// low rank, `hard` loses energy fast, `mid` in between.
const energies = { easy: [0.9, 0.97, 0.99, 0.995], mid: [0.6, 0.8, 0.9, 0.98], hard: [0.3, 0.5, 0.7, 0.85] };
const layers = (Object.keys(energies) as (keyof typeof energies)[]).map((name) =>
  layer(name, 1000, energies[name].map((energy, i) => ({ rank: i + 1, flops: 200 * (i + 1), energy }))),
);

/** Every combination: per layer, null (whole) or one of its options. */
function combinations(ls: readonly LayerFactorizer[]): (RankOption | null)[][] {
  return ls.reduce<(RankOption | null)[][]>((acc, l) => acc.flatMap((c) => [null, ...l.options].map((o) => [...c, o])), [[]]);
}
const flopsOf = (ls: readonly LayerFactorizer[], c: (RankOption | null)[]) => c.reduce((s, o, i) => s + (o ? o.flops : ls[i].target.flops), 0);
const lossOf = (c: (RankOption | null)[]) => c.reduce((s, o) => s + (o ? 1 - o.energy : 0), 0);
const ranks = (c: readonly { option: RankOption | null }[]) => c.map((x) => x.option?.rank ?? 0);

/** The energy definition: the highest level among the options' energies (or 1) whose cheapest choices fit. */
function byEnergy(ls: readonly LayerFactorizer[], budget: number): { level: number; ranks: number[] } {
  const levels = [1, ...ls.flatMap((l) => l.options.map((o) => o.energy))].sort((a, b) => b - a);
  for (const level of levels) {
    const choice = ls.map((l) => l.options.filter((o) => o.energy >= level).sort((a, b) => a.flops - b.flops)[0] ?? null);
    if (flopsOf(ls, choice) <= budget) return { level, ranks: choice.map((o) => o?.rank ?? 0) };
  }
  throw new Error('no level fits');
}

/** The error definition: least summed loss within budget (ties: fewer FLOPs). */
function byError(ls: readonly LayerFactorizer[], budget: number): number[] {
  const ok = combinations(ls).filter((c) => flopsOf(ls, c) <= budget);
  ok.sort((a, b) => lossOf(a) - lossOf(b) || flopsOf(ls, a) - flopsOf(ls, b));
  return ok[0].map((o) => o?.rank ?? 0);
}

describe('factorization rank allocation', () => {
  it('by energy, worked by hand: a 2000-FLOP budget gives the common level 0.9', () => {
    // Level 0.9: easy r1 (200) + mid r3 (600) + hard whole (1000) = 1800 fits;
    // any level above 0.9 (next option energy 0.97) needs easy r2 (400) + mid r4 (800) + hard whole = 2200.
    const a = allocateByEnergy(layers, 2000);
    expect(ranks(a.choices)).toEqual([1, 3, 0]);
    expect(a.energyLevel).toBeCloseTo(0.9, 9);
    expect(a.flops).toBe(1800);
  });

  for (const budget of [3000, 2600, 2000, 1600, 1200, 800, 600]) {
    it(`by energy at ${budget} FLOPs: the highest common level that fits`, () => {
      const want = byEnergy(layers, budget);
      const a = allocateByEnergy(layers, budget);
      expect(ranks(a.choices)).toEqual(want.ranks);
      expect(a.energyLevel).toBeCloseTo(want.level, 9);
      expect(a.flops).toBeLessThanOrEqual(budget);
    });
  }

  it('by error, worked by hand: a 2000-FLOP budget cuts easy hardest and leaves hard whole', () => {
    // Saving 1000 is needed. easy r1 (saves 800, loss 0.1) + mid r4 (saves 200, loss 0.02) = loss 0.12;
    // easy r2 + mid r3 = 0.03 + 0.1 = 0.13; any plan touching hard costs ≥ 0.15 for its first 200 FLOPs.
    const a = allocateByError(layers, 2000);
    expect(ranks(a.choices)).toEqual([1, 4, 0]);
    expect(a.flops).toBe(2000);
  });

  for (const budget of [2600, 2000, 1600, 1200, 800]) {
    it(`by error at ${budget} FLOPs: the least summed loss within budget`, () => {
      const a = allocateByError(layers, budget);
      expect(a.flops).toBeLessThanOrEqual(budget);
      expect(ranks(a.choices)).toEqual(byError(layers, budget));
    });
  }
});

describe('rounding channel ranks to multiples of 8', () => {
  // Ranks 1..16 at 10·r FLOPs; `linear` loses energy evenly, `steep` keeps almost all of it by rank 8.
  const chan = (name: string, energy: (r: number) => number): LayerFactorizer => ({
    ...layer(name, 1000, Array.from({ length: 16 }, (_, i) => ({ rank: i + 1, flops: 10 * (i + 1), energy: energy(i + 1) }))),
    channelRank: true,
  });
  const linear = chan('linear', (r) => r / 16);
  const steep = chan('steep', (r) => 1 - 0.5 ** r);
  const at = (l: LayerFactorizer, r: number) => ({ layer: l, option: l.options[r - 1] });

  it('rounds 13 and 12 up to 16 when the budget allows, and takes back first the round-up that loses least energy per FLOP', () => {
    const choices = [at(linear, 13), at(steep, 12)];
    expect(ranks(roundToEight(choices, 320))).toEqual([16, 16]);
    // Only one round-up fits 290: steep's way down to 8 loses 0.5⁸ − 0.5¹⁶ of energy over 80 FLOPs, linear's 0.5.
    expect(ranks(roundToEight(choices, 290))).toEqual([16, 8]);
    expect(ranks(roundToEight(choices, 200))).toEqual([8, 8]);
    // 11 % 8 = 3 < 4 rounds down.
    expect(ranks(roundToEight([at(linear, 11)], 1000))).toEqual([8]);
  });
});
