import { describe, expect, it } from 'vitest';
import {
  constrainedDominates,
  crowdingDistance,
  initNsga2,
  nonDominatedSort,
  paretoFront,
  stepNsga2,
  tournament,
  type Evaluation,
  type Individual,
  type Nsga2State,
  type SearchProblem,
} from '../../../compress/search/nsga2.js';
import { hypervolume2d } from '../../../compress/search/front.js';
import { zdt } from './real-ops.js';

const feasible = (...objectives: number[]): Evaluation => ({ objectives, violation: 0 });

/** Fronts by the definition: peel off the points no remaining point dominates. */
function frontsByPeeling(points: Evaluation[]): number[][] {
  let left = points.map((_, i) => i);
  const fronts: number[][] = [];
  while (left.length > 0) {
    const front = left.filter((p) => !left.some((q) => constrainedDominates(points[q], points[p])));
    fronts.push(front);
    left = left.filter((p) => !front.includes(p));
  }
  return fronts;
}

describe('constrained domination', () => {
  it('feasible beats infeasible whatever the objectives', () => {
    const bad = { objectives: [0, 0], violation: 0.1 };
    expect(constrainedDominates(feasible(5, 5), bad)).toBe(true);
    expect(constrainedDominates(bad, feasible(5, 5))).toBe(false);
  });

  it('of two infeasible, the smaller violation wins; equal violations tie', () => {
    const small = { objectives: [9, 9], violation: 0.1 };
    const large = { objectives: [0, 0], violation: 0.3 };
    expect(constrainedDominates(small, large)).toBe(true);
    expect(constrainedDominates(large, small)).toBe(false);
    const same = { objectives: [0, 0], violation: 0.1 };
    expect(constrainedDominates(small, same)).toBe(false);
    expect(constrainedDominates(same, small)).toBe(false);
  });

  it('of two feasible, Pareto dominance: no worse everywhere and better somewhere', () => {
    expect(constrainedDominates(feasible(1, 2), feasible(1, 3))).toBe(true);
    expect(constrainedDominates(feasible(1, 3), feasible(1, 2))).toBe(false);
    expect(constrainedDominates(feasible(1, 2), feasible(1, 2))).toBe(false);
    expect(constrainedDominates(feasible(1, 3), feasible(2, 2))).toBe(false);
    expect(constrainedDominates(feasible(2, 2), feasible(1, 3))).toBe(false);
  });
});

describe('nonDominatedSort', () => {
  it('sorts a hand-made set into its fronts', () => {
    // A(1,5) B(2,3) C(4,1) trade off; D(3,4) is dominated by B only, F(2,6)
    // by A only, and D, F trade off; E(5,5) is dominated by A, B, C and D.
    const points = [feasible(1, 5), feasible(2, 3), feasible(4, 1), feasible(3, 4), feasible(5, 5), feasible(2, 6)];
    expect(nonDominatedSort(points)).toEqual([[0, 1, 2], [3, 5], [4]]);
  });

  it('puts feasible fronts first, then infeasible ones by violation', () => {
    const points = [
      { objectives: [0, 0], violation: 0.5 },
      feasible(3, 3),
      { objectives: [0, 0], violation: 0.2 },
      feasible(1, 4),
      feasible(4, 4),
      { objectives: [9, 9], violation: 0.2 },
    ];
    // Feasible: (3,3) and (1,4) trade off, (4,4) is dominated by (3,3); then
    // the two infeasible with violation 0.2 tie, and 0.5 comes last.
    expect(nonDominatedSort(points)).toEqual([[1, 3], [4], [2, 5], [0]]);
  });

  it('agrees with peeling by the definition on random sets, duplicates and constraints included', () => {
    let s = 7;
    const rand = () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648);
    for (let trial = 0; trial < 40; trial++) {
      const points = Array.from({ length: 25 }, () => ({
        objectives: [Math.floor(rand() * 6), Math.floor(rand() * 6), Math.floor(rand() * 6)].slice(0, 2 + (trial % 2)),
        violation: rand() < 0.3 ? Math.floor(rand() * 3) / 2 : 0,
      }));
      expect(nonDominatedSort(points)).toEqual(frontsByPeeling(points));
    }
  });
});

describe('crowdingDistance', () => {
  it('gives the ends Infinity and the inner points the sum of range-normalised neighbour gaps', () => {
    // f1 spans 0..10, f2 spans 0..1000: the gaps are divided by 10 and 1000.
    const points = [feasible(0, 1000), feasible(1, 600), feasible(2, 300), feasible(6, 100), feasible(10, 0)];
    const front = [0, 1, 2, 3, 4];
    const d = crowdingDistance(points, front);
    expect(d[0]).toBe(Infinity);
    expect(d[4]).toBe(Infinity);
    expect(d[1]).toBeCloseTo((2 - 0) / 10 + (1000 - 300) / 1000, 12); // 0.9
    expect(d[2]).toBeCloseTo((6 - 1) / 10 + (600 - 100) / 1000, 12); // 1.0
    expect(d[3]).toBeCloseTo((10 - 2) / 10 + (300 - 0) / 1000, 12); // 1.1
  });

  it('answers in the order of the front given, for a subset of the points', () => {
    const points = [feasible(99, 99), feasible(4, 0), feasible(0, 4), feasible(1, 2)];
    // Front [3, 1, 2]: (1,2) lies between (0,4) and (4,0) on both objectives.
    const d = crowdingDistance(points, [3, 1, 2]);
    expect(d).toEqual([(4 - 0) / 4 + (4 - 0) / 4, Infinity, Infinity]);
  });

  it('adds nothing for an objective on which the whole front is equal', () => {
    const points = [feasible(0, 5), feasible(1, 5), feasible(3, 5)];
    expect(crowdingDistance(points, [0, 1, 2])).toEqual([Infinity, 1, Infinity]);
  });
});

describe('tournament', () => {
  const ind = (rank: number, crowding: number): Individual<string> => ({ genome: `${rank}/${crowding}`, objectives: [0], violation: 0, rank, crowding });
  /** An rng that returns the given values in turn. */
  const script = (...values: number[]) => () => values.shift()!;

  it('prefers the lower rank, whichever is drawn first', () => {
    const pop = [ind(1, Infinity), ind(0, 0.1)];
    expect(tournament(pop, script(0, 0.5)).rank).toBe(0);
    expect(tournament(pop, script(0.5, 0)).rank).toBe(0);
  });

  it('prefers the larger crowding within a rank', () => {
    const pop = [ind(2, 0.3), ind(2, Infinity)];
    expect(tournament(pop, script(0, 0.5)).crowding).toBe(Infinity);
    expect(tournament(pop, script(0.5, 0)).crowding).toBe(Infinity);
  });
});

/** A discrete problem small enough to enumerate: x, y in 0..9; minimise (x, 9 − x + y); infeasible when x + y < 3. */
function gridProblem(calls: string[] = []): SearchProblem<[number, number]> {
  const pick = (rng: () => number) => Math.floor(rng() * 10);
  return {
    random: (rng) => [pick(rng), pick(rng)],
    crossover: (a, b, rng) => (rng() < 0.5 ? [[a[0], b[1]], [b[0], a[1]]] : [a, b]),
    mutate: (g, rng) => (rng() < 0.3 ? [pick(rng), g[1]] : rng() < 0.3 ? [g[0], pick(rng)] : g),
    key: (g) => g.join(','),
    evaluate: (g) => {
      calls.push(g.join(','));
      return { objectives: [g[0], 9 - g[0] + g[1]], violation: Math.max(0, 3 - g[0] - g[1]) };
    },
  };
}

function run<G>(problem: SearchProblem<G>, o: { populationSize: number; seed: number }, generations: number): Nsga2State<G> {
  let state = initNsga2(problem, o);
  for (let g = 0; g < generations; g++) state = stepNsga2(problem, state);
  return state;
}

describe('NSGA-II on a small discrete problem', () => {
  it('keeps keys distinct, evaluates each genome once, and ends on the feasible front', () => {
    const calls: string[] = [];
    const state = run(gridProblem(calls), { populationSize: 12, seed: 3 }, 25);
    const keys = state.population.map((i) => i.genome.join(','));
    expect(new Set(keys).size).toBe(keys.length);
    expect(new Set(calls).size).toBe(calls.length); // the cache: no genome evaluated twice
    expect(state.evaluations).toBe(calls.length);
    expect(calls.length).toBeLessThanOrEqual(100);
    // The feasible optimum front: for each x the least feasible y, max(0, 3 − x):
    // f = (x, 12 − 2x) for x < 3 and (x, 9 − x) for x ≥ 3, f2 falling as f1 rises.
    const front = paretoFront(state).map((i) => i.genome.join(',')).sort();
    expect(front).toEqual(['0,3', '1,2', '2,1', '3,0', '4,0', '5,0', '6,0', '7,0', '8,0', '9,0']);
  });

  it('accepts duplicates when the space has fewer genomes than the population', () => {
    const tiny: SearchProblem<number> = {
      random: (rng) => Math.floor(rng() * 3),
      crossover: (a, b) => [a, b],
      mutate: (g, rng) => Math.floor(rng() * 3),
      key: (g) => String(g),
      evaluate: (g) => feasible(g, 2 - g),
    };
    const state = run(tiny, { populationSize: 5, seed: 1 }, 3);
    expect(state.population).toHaveLength(5);
    expect(new Set(state.population.map((i) => i.genome))).toEqual(new Set([0, 1, 2]));
  });

  it('repeats exactly for a seed and differs for another', () => {
    const a = run(gridProblem(), { populationSize: 10, seed: 11 }, 6);
    const b = run(gridProblem(), { populationSize: 10, seed: 11 }, 6);
    const c = run(gridProblem(), { populationSize: 10, seed: 12 }, 6);
    expect(a).toEqual(b);
    expect(JSON.stringify(c.population.map((i) => i.genome))).not.toBe(JSON.stringify(a.population.map((i) => i.genome)));
  });
});

describe('NSGA-II on ZDT1 and ZDT2 (n = 30, SBX η_c = 15, polynomial mutation η_m = 20, p = 1/30)', () => {
  // The true fronts: f1 = x1 in [0,1], x2..x30 = 0 (g = 1), f2 = 1 − √f1
  // (ZDT1) or 1 − f1² (ZDT2). Hypervolume w.r.t. (1.1, 1.1): the square
  // [0, 1.1]² minus the part of it no front point dominates, which is the
  // area under the front over f1 in [0, 1] (beyond f1 = 1 the point (1, 0)
  // dominates the whole 0.1-wide strip):
  //   ZDT1: 1.21 − ∫₀¹ (1 − √x) dx = 1.21 − 1/3 = 0.876667
  //   ZDT2: 1.21 − ∫₀¹ (1 − x²) dx = 1.21 − 2/3 = 0.543333
  const cases = [
    { which: 1 as const, front: (x: number) => 1 - Math.sqrt(x), hv: 1.21 - 1 / 3 },
    { which: 2 as const, front: (x: number) => 1 - x * x, hv: 1.21 - 2 / 3 },
  ];
  for (const c of cases) {
    it(`ZDT${c.which}: generational distance < 0.01 and hypervolume within 2% of the true front's`, () => {
      const state = run(zdt(c.which), { populationSize: 100, seed: 2026 }, 200);
      const found = paretoFront(state).map((i) => i.objectives as [number, number]);
      // Generational distance (mean form): the mean over the found front of
      // the distance to the nearest of 10,001 points sampled on the true front.
      const truth = Array.from({ length: 10_001 }, (_, k) => [k / 10_000, c.front(k / 10_000)]);
      const nearest = (p: number[]) => Math.min(...truth.map((t) => Math.hypot(p[0] - t[0], p[1] - t[1])));
      const gd = found.reduce((s, p) => s + nearest(p), 0) / found.length;
      expect(gd).toBeLessThan(0.01);
      const hv = hypervolume2d(found, [1.1, 1.1]);
      expect(Math.abs(hv - c.hv) / c.hv).toBeLessThan(0.02);
    });
  }

  it('a saved state resumes bit-identically', () => {
    const problem = zdt(1);
    const state = run(problem, { populationSize: 20, seed: 5 }, 4);
    const saved: Nsga2State<number[]> = JSON.parse(JSON.stringify(state));
    // JSON turns the fronts' infinite crowding into null: the step must not care.
    expect(saved.population.some((i) => i.crowding === null)).toBe(true);
    let a = state;
    let b = saved;
    for (let g = 0; g < 5; g++) {
      a = stepNsga2(problem, a);
      b = stepNsga2(problem, b);
    }
    expect(b).toEqual(a);
    expect(JSON.stringify(b)).toBe(JSON.stringify(a));
  });
});
