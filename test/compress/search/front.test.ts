import { describe, expect, it } from 'vitest';
import { compareToLadder, frontSummary, hypervolume2d, reachesGoal, type FrontPoint } from '../../../compress/search/front.js';
import type { Individual, Nsga2State } from '../../../compress/search/nsga2.js';

describe('hypervolume2d', () => {
  it('sums the staircase of a worked example', () => {
    // Ref (4,4); points (1,3), (2,2), (3,1): slabs from the left,
    // (4−1)·(4−3) + (4−2)·(3−2) + (4−3)·(2−1) = 3 + 2 + 1 = 6.
    expect(hypervolume2d([[2, 2], [3, 1], [1, 3]], [4, 4])).toBe(6);
  });

  it('ignores dominated points, duplicates and points not inside the reference box', () => {
    const base = hypervolume2d([[1, 3], [2, 2], [3, 1]], [4, 4]);
    const noisy = hypervolume2d([[1, 3], [2, 2], [3, 1], [2, 2], [3, 3], [2.5, 2], [5, 0], [0, 4], [4, 0]], [4, 4]);
    expect(noisy).toBe(base);
  });

  it('is the box for one point and 0 for none', () => {
    expect(hypervolume2d([[0.5, 0.25]], [1, 1])).toBe(0.5 * 0.75);
    expect(hypervolume2d([], [1, 1])).toBe(0);
  });
});

describe('compareToLadder', () => {
  const ladder: FrontPoint[] = [
    { name: 'int8-512', latencyRatio: 0.49, fidelity: 0.873 },
    { name: 'fp32-416', latencyRatio: 0.43, fidelity: 0.424 },
    { name: 'pruned-20', latencyRatio: 0.86, fidelity: 0.962 },
  ];

  it('matches within +5% of the ladder latency or faster, and takes the best fidelity there', () => {
    const searched: FrontPoint[] = [
      // 0.51 ≤ 0.49 × 1.05 = 0.5145: counts at int8-512; 0.52 does not.
      { name: 'a', latencyRatio: 0.51, fidelity: 0.9 },
      { name: 'b', latencyRatio: 0.52, fidelity: 0.95 },
      // 0.45 ≤ 0.43 × 1.05 = 0.4515: counts at fp32-416, and at int8-512 (faster).
      { name: 'c', latencyRatio: 0.45, fidelity: 0.6 },
      { name: 'd', latencyRatio: 0.91, fidelity: 0.99 }, // 0.91 > 0.86 × 1.05 = 0.903: too slow for pruned-20
    ];
    const r = compareToLadder(searched, ladder, { tolerance: 0.05 });
    expect(r.rows.map((row) => row.best?.name)).toEqual(['a', 'c', 'b']);
    // At pruned-20 the best within 0.903 is b (0.95 < 0.962), so not at least as high.
    expect(r.rows.map((row) => [row.atLeast, row.strictlyHigher])).toEqual([
      [true, true],
      [true, true],
      [false, false],
    ]);
    expect(r.beatsAtEvery).toBe(false);
    expect(r.strictlyHigherAt).toBe(2);
  });

  it('beats at every point when an equal fidelity is found at each; equal is not strictly higher', () => {
    const searched = ladder.map((l) => ({ ...l, name: `s-${l.name}` }));
    const r = compareToLadder(searched, ladder);
    expect(r.beatsAtEvery).toBe(true);
    expect(r.strictlyHigherAt).toBe(0);
  });

  it('has no match when nothing is that fast, and prefers the faster of equal fidelities', () => {
    const r = compareToLadder(
      [
        { name: 'slow', latencyRatio: 0.6, fidelity: 0.99 },
        { name: 'x', latencyRatio: 0.45, fidelity: 0.5 },
        { name: 'y', latencyRatio: 0.4, fidelity: 0.5 },
      ],
      [{ name: 'l', latencyRatio: 0.3, fidelity: 0.1 }, ladder[1]],
    );
    expect(r.rows[0].best).toBeUndefined();
    expect(r.rows[0].atLeast).toBe(false);
    expect(r.rows[1].best?.name).toBe('y');
  });
});

describe('reachesGoal', () => {
  const searched: FrontPoint[] = [
    { name: 'p', latencyRatio: 0.44, fidelity: 0.91 },
    { name: 'q', latencyRatio: 0.451, fidelity: 0.95 },
    { name: 'r', latencyRatio: 0.29, fidelity: 0.68 },
  ];

  it('takes the best fidelity at or under the latency bound, without tolerance', () => {
    expect(reachesGoal(searched, { fidelity: 0.9, latencyRatio: 0.45 })).toEqual({ best: searched[0], reached: true });
    expect(reachesGoal(searched, { fidelity: 0.7, latencyRatio: 0.3 })).toEqual({ best: searched[2], reached: false });
    expect(reachesGoal(searched, { fidelity: 0.7, latencyRatio: 0.2 })).toEqual({ best: undefined, reached: false });
  });
});

describe('frontSummary', () => {
  const ind = (objectives: number[], rank: number, violation = 0): Individual<string> => ({ genome: objectives.join(), objectives, violation, rank, crowding: 0 });

  it('counts the rank-0 feasible individuals and their hypervolume', () => {
    const state: Nsga2State<string> = {
      seed: 1,
      populationSize: 4,
      generation: 7,
      evaluations: 31,
      population: [ind([1, 3], 0), ind([3, 1], 0), ind([2, 4], 1), ind([0, 0], 0, 0.5)],
    };
    // Front (1,3), (3,1) w.r.t. (4,4): 3·1 + 1·2 = 5; the infeasible (0,0) does not count.
    expect(frontSummary(state, [4, 4])).toEqual({ generation: 7, evaluations: 31, frontSize: 2, hypervolume: 5 });
    expect(frontSummary(state)).toEqual({ generation: 7, evaluations: 31, frontSize: 2 });
  });
});
