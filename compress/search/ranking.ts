// Ranking for NSGA-II (Deb et al. 2002), pure: Deb's constrained
// domination, the fast non-dominated sort and crowding distance. All
// objectives are minimised. nsga2.ts re-exports these (the search contract
// names them there).

export interface Evaluation {
  objectives: number[];
  /** 0 = feasible; > 0 = by how much a constraint is broken. */
  violation: number;
}

/** Deb's constrained domination: does a dominate b? */
export function constrainedDominates(a: Evaluation, b: Evaluation): boolean {
  const aFeasible = a.violation <= 0;
  const bFeasible = b.violation <= 0;
  if (aFeasible !== bFeasible) return aFeasible;
  if (!aFeasible) return a.violation < b.violation;
  let strictlyBetter = false;
  for (let m = 0; m < a.objectives.length; m++) {
    if (a.objectives[m] > b.objectives[m]) return false;
    if (a.objectives[m] < b.objectives[m]) strictlyBetter = true;
  }
  return strictlyBetter;
}

/**
 * Fast non-dominated sort (Deb 2002, O(M·N²)) under constrained domination.
 * Returns the fronts as lists of indices into points, best front first; each
 * front lists its indices in ascending order.
 */
export function nonDominatedSort(points: ReadonlyArray<Evaluation>): number[][] {
  const n = points.length;
  const dominated: number[][] = points.map(() => []);
  const dominatedBy = new Array<number>(n).fill(0);
  for (let p = 0; p < n; p++) {
    for (let q = p + 1; q < n; q++) {
      if (constrainedDominates(points[p], points[q])) {
        dominated[p].push(q);
        dominatedBy[q]++;
      } else if (constrainedDominates(points[q], points[p])) {
        dominated[q].push(p);
        dominatedBy[p]++;
      }
    }
  }
  const fronts: number[][] = [];
  let current = [];
  for (let p = 0; p < n; p++) if (dominatedBy[p] === 0) current.push(p);
  while (current.length > 0) {
    fronts.push(current);
    const next: number[] = [];
    for (const p of current) {
      for (const q of dominated[p]) if (--dominatedBy[q] === 0) next.push(q);
    }
    current = next.sort((a, b) => a - b);
  }
  return fronts;
}

/**
 * Crowding distance of each member of one front (result[i] belongs to
 * front[i]): per objective, sort the front, give the two ends Infinity and
 * each inner point (next − previous) / (max − min) of the front, summed over
 * objectives. An objective on which the whole front is equal tells its points
 * nothing apart and adds nothing (no ends, no division by a zero range).
 */
export function crowdingDistance(points: ReadonlyArray<Evaluation>, front: readonly number[]): number[] {
  const distance = new Array<number>(front.length).fill(0);
  if (front.length === 0) return distance;
  const objectives = points[front[0]].objectives.length;
  const order = front.map((_, i) => i);
  for (let m = 0; m < objectives; m++) {
    const value = (i: number) => points[front[i]].objectives[m];
    order.sort((a, b) => value(a) - value(b) || a - b);
    const range = value(order[order.length - 1]) - value(order[0]);
    if (!(range > 0)) continue;
    distance[order[0]] = Infinity;
    distance[order[order.length - 1]] = Infinity;
    for (let k = 1; k < order.length - 1; k++) {
      distance[order[k]] += (value(order[k + 1]) - value(order[k - 1])) / range;
    }
  }
  return distance;
}
