// Judging a searched front (pure): its hypervolume, how it compares with the
// fixed ladder at the ladder's latencies, whether it reaches the goals,
// and a per-generation summary of a running search.
import { paretoFront, type Nsga2State } from './nsga2.js';

/**
 * Area dominated by the points (two minimised objectives) and bounded by ref.
 * Points not strictly better than ref on both objectives add nothing;
 * dominated points and duplicates add nothing.
 */
export function hypervolume2d(points: ReadonlyArray<readonly number[]>, ref: readonly [number, number]): number {
  const inside = points.filter((p) => p[0] < ref[0] && p[1] < ref[1]).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let area = 0;
  let ceiling = ref[1];
  for (const p of inside) {
    if (p[1] >= ceiling) continue;
    area += (ref[0] - p[0]) * (ceiling - p[1]);
    ceiling = p[1];
  }
  return area;
}

/** A candidate on the latency/fidelity plane: latency as a ratio of fp32's (same thread count), fidelity higher is better. */
export interface FrontPoint {
  name: string;
  latencyRatio: number;
  fidelity: number;
}

export interface LadderComparison {
  ladder: FrontPoint;
  /** The searched point with the best fidelity at the ladder point's latency (lowest latency among equals); absent when none is that fast. */
  best?: FrontPoint;
  /** best.fidelity ≥ ladder.fidelity. */
  atLeast: boolean;
  /** best.fidelity > ladder.fidelity. */
  strictlyHigher: boolean;
}

/**
 * For each ladder candidate, the best searched candidate "at its latency":
 * a searched latencyRatio within ±tolerance (relative, default 5%) of the
 * ladder's, or lower — i.e. latencyRatio ≤ ladder.latencyRatio × (1 + tolerance),
 * since being faster never hurts. Summary: beatsAtEvery = at least as high
 * fidelity at every ladder point; strictlyHigherAt = at how many strictly higher.
 */
export function compareToLadder(
  searched: ReadonlyArray<FrontPoint>,
  ladder: ReadonlyArray<FrontPoint>,
  o: { tolerance: number } = { tolerance: 0.05 },
): { rows: LadderComparison[]; beatsAtEvery: boolean; strictlyHigherAt: number } {
  const rows = ladder.map((l): LadderComparison => {
    const best = bestFidelity(searched.filter((s) => s.latencyRatio <= l.latencyRatio * (1 + o.tolerance)));
    return { ladder: l, best, atLeast: !!best && best.fidelity >= l.fidelity, strictlyHigher: !!best && best.fidelity > l.fidelity };
  });
  return { rows, beatsAtEvery: rows.every((r) => r.atLeast), strictlyHigherAt: rows.filter((r) => r.strictlyHigher).length };
}

/**
 * The goals (fidelity ≥ 0.90 at ≤ 0.45× fp32 latency, ≥ 0.70 at
 * ≤ 0.30×): the best-fidelity searched point with latencyRatio ≤ the bound
 * (no tolerance: the goal is a bound), and whether it reaches the fidelity.
 */
export function reachesGoal(searched: ReadonlyArray<FrontPoint>, goal: { fidelity: number; latencyRatio: number }): { best?: FrontPoint; reached: boolean } {
  const best = bestFidelity(searched.filter((s) => s.latencyRatio <= goal.latencyRatio));
  return { best, reached: !!best && best.fidelity >= goal.fidelity };
}

function bestFidelity(points: ReadonlyArray<FrontPoint>): FrontPoint | undefined {
  let best: FrontPoint | undefined;
  for (const p of points) {
    if (!best || p.fidelity > best.fidelity || (p.fidelity === best.fidelity && p.latencyRatio < best.latencyRatio)) best = p;
  }
  return best;
}

export interface FrontSummary {
  generation: number;
  evaluations: number;
  /** Rank-0 feasible individuals. */
  frontSize: number;
  /** Of the rank-0 feasible objectives w.r.t. ref; only for two objectives and when ref is given. */
  hypervolume?: number;
}

/** A search's progress in one line's worth of numbers (for a per-generation log or progress bar). */
export function frontSummary<G>(state: Nsga2State<G>, ref?: readonly [number, number]): FrontSummary {
  const front = paretoFront(state);
  const summary: FrontSummary = { generation: state.generation, evaluations: state.evaluations, frontSize: front.length };
  if (ref && front.every((i) => i.objectives.length === 2)) summary.hypervolume = hypervolume2d(front.map((i) => i.objectives), ref);
  return summary;
}
