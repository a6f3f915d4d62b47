// NSGA-II (Deb, Pratap, Agarwal, Meyarivan 2002, "A fast and elitist
// multiobjective genetic algorithm"), generic over the genome. Pure: no I/O;
// the problem supplies random genomes, crossover, mutation, evaluation and a
// key that identifies equal genomes. All objectives are minimised.
//
// One generation (stepNsga2): binary tournaments on (rank, crowding) pick
// parents, the problem's crossover + mutate make N offspring, and (μ+λ)
// elitist survival keeps the best N of parents ∪ offspring by fronts, the
// last front cut by crowding distance. Constraints follow Deb's constrained
// domination (section V of the paper): feasible beats infeasible, of two
// infeasible the smaller violation wins, of two feasible Pareto dominance.
//
// Determinism: each generation draws from its own mulberry32 seeded from
// (seed, generation), and the state is plain JSON (rank and crowding are
// recomputed from the evaluations at the start of a step, since JSON writes
// an infinite crowding as null), so a saved state resumes bit-identically.
import { mulberry32 } from '../random.js';

export interface Evaluation {
  objectives: number[];
  /** 0 = feasible; > 0 = by how much a constraint is broken. */
  violation: number;
}

export interface SearchProblem<G> {
  random(rng: () => number): G;
  crossover(a: G, b: G, rng: () => number): [G, G];
  mutate(g: G, rng: () => number): G;
  evaluate(g: G): Evaluation;
  /** Equal genomes give equal keys (the population keeps no duplicates, and evaluations are cached by key). */
  key(g: G): string;
}

export interface Individual<G> extends Evaluation {
  genome: G;
  /** Index of its non-dominated front within the population (0 = best). */
  rank: number;
  /** Crowding distance within its front (Infinity at the front's ends). */
  crowding: number;
}

/** Plain JSON: JSON.stringify/parse of a state and stepNsga2 on it give the same next generation as without (resumable). */
export interface Nsga2State<G> {
  seed: number;
  populationSize: number;
  generation: number;
  /** Calls to problem.evaluate so far in this run (cache hits not counted). */
  evaluations: number;
  population: Individual<G>[];
  /**
   * Evaluations by genome key, for every genome evaluated in this run (added
   * to the contract: the cache must travel with the state, or a resumed run
   * would re-evaluate and count differently from an uninterrupted one).
   * Absent = empty.
   */
  evaluated?: Record<string, Evaluation>;
}

/** How often a duplicate child (or initial genome) is re-drawn before it is accepted. */
const REDRAWS = 8;

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

/** The rank-0 feasible individuals of the population. */
export function paretoFront<G>(state: Nsga2State<G>): Individual<G>[] {
  return state.population.filter((i) => i.rank === 0 && i.violation <= 0);
}

export function initNsga2<G>(problem: SearchProblem<G>, o: { populationSize: number; seed: number }): Nsga2State<G> {
  if (!Number.isInteger(o.populationSize) || o.populationSize < 2) {
    throw new Error(`NSGA-II: populationSize must be an integer ≥ 2, got ${o.populationSize}`);
  }
  if (!Number.isInteger(o.seed)) throw new Error(`NSGA-II: seed must be an integer, got ${o.seed}`);
  const rng = generationRng(o.seed, 0);
  const run = new Run(problem, {});
  const genomes: G[] = [];
  const keys = new Set<string>();
  while (genomes.length < o.populationSize) {
    let g = problem.random(rng);
    for (let t = 0; t < REDRAWS && keys.has(problem.key(g)); t++) g = problem.random(rng);
    keys.add(problem.key(g));
    genomes.push(g);
  }
  const population = ranked(genomes.map((g) => run.individual(g)));
  return { seed: o.seed, populationSize: o.populationSize, generation: 0, evaluations: run.evaluations, population, evaluated: run.cacheRecord() };
}

export function stepNsga2<G>(problem: SearchProblem<G>, state: Nsga2State<G>): Nsga2State<G> {
  const generation = state.generation + 1;
  const rng = generationRng(state.seed, generation);
  const run = new Run(problem, state.evaluated ?? {});
  const parents = ranked(state.population.map((i) => ({ ...i })));
  const n = state.populationSize;

  const keys = new Set(parents.map((i) => problem.key(i.genome)));
  const offspring: G[] = [];
  while (offspring.length < n) {
    const known = (c: G[]) => c.some((g) => keys.has(problem.key(g))) || problem.key(c[0]) === problem.key(c[1]);
    let children = breed(problem, parents, rng);
    for (let t = 0; t < REDRAWS && known(children); t++) children = breed(problem, parents, rng);
    for (const c of children) {
      if (offspring.length === n) break;
      keys.add(problem.key(c));
      offspring.push(c);
    }
  }

  const merged = [...parents, ...offspring.map((g) => run.individual(g))];
  const population = ranked(survivors(problem, merged, n));
  return {
    seed: state.seed,
    populationSize: n,
    generation,
    evaluations: state.evaluations + run.evaluations,
    population,
    evaluated: run.cacheRecord(),
  };
}

/** Binary tournament: lower rank wins, then larger crowding; a full tie goes to a coin. */
export function tournament<G>(population: ReadonlyArray<Individual<G>>, rng: () => number): Individual<G> {
  const a = population[Math.floor(rng() * population.length)];
  const b = population[Math.floor(rng() * population.length)];
  if (a.rank !== b.rank) return a.rank < b.rank ? a : b;
  if (a.crowding !== b.crowding) return a.crowding > b.crowding ? a : b;
  return rng() < 0.5 ? a : b;
}

function breed<G>(problem: SearchProblem<G>, parents: ReadonlyArray<Individual<G>>, rng: () => number): [G, G] {
  const a = tournament(parents, rng);
  const b = tournament(parents, rng);
  const [c, d] = problem.crossover(a.genome, b.genome, rng);
  return [problem.mutate(c, rng), problem.mutate(d, rng)];
}

/**
 * (μ+λ) survival: whole fronts while they fit, the last one cut by crowding
 * (largest first). Duplicate keys are dropped first and only used to fill
 * the population when there are fewer than n distinct genomes.
 */
function survivors<G>(problem: SearchProblem<G>, merged: Individual<G>[], n: number): Individual<G>[] {
  const seen = new Set<string>();
  const distinct: Individual<G>[] = [];
  const duplicates: Individual<G>[] = [];
  for (const i of merged) {
    const k = problem.key(i.genome);
    (seen.has(k) ? duplicates : distinct).push(i);
    seen.add(k);
  }
  const chosen: Individual<G>[] = [];
  for (const front of nonDominatedSort(distinct)) {
    if (chosen.length + front.length <= n) {
      for (const i of front) chosen.push(distinct[i]);
      continue;
    }
    const crowding = crowdingDistance(distinct, front);
    const order = front.map((_, k) => k).sort((a, b) => crowding[b] - crowding[a] || a - b);
    for (const k of order.slice(0, n - chosen.length)) chosen.push(distinct[front[k]]);
    break;
  }
  for (const d of duplicates) if (chosen.length < n) chosen.push(d);
  return chosen;
}

/** Sets rank and crowding of each individual from the population itself, in place. */
function ranked<G>(population: Individual<G>[]): Individual<G>[] {
  nonDominatedSort(population).forEach((front, rank) => {
    const crowding = crowdingDistance(population, front);
    front.forEach((i, k) => {
      population[i].rank = rank;
      population[i].crowding = crowding[k];
    });
  });
  return population;
}

/** A generation's random stream: mulberry32 seeded by a 32-bit mix of (seed, generation). */
function generationRng(seed: number, generation: number): () => number {
  let h = Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(generation + 1, 0xc2b2ae35);
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b);
  return mulberry32((h ^ (h >>> 16)) >>> 0);
}

/** One step's evaluation cache (seeded from the state's) and its count of real evaluations. */
class Run<G> {
  evaluations = 0;
  private readonly cache: Map<string, Evaluation>;

  constructor(
    private readonly problem: SearchProblem<G>,
    evaluated: Record<string, Evaluation>,
  ) {
    this.cache = new Map(Object.entries(evaluated));
  }

  individual(genome: G): Individual<G> {
    const k = this.problem.key(genome);
    let e = this.cache.get(k);
    if (!e) {
      e = checked(this.problem.evaluate(genome), k);
      this.evaluations++;
      this.cache.set(k, e);
    }
    return { genome, objectives: [...e.objectives], violation: e.violation, rank: 0, crowding: 0 };
  }

  cacheRecord(): Record<string, Evaluation> {
    return Object.fromEntries(this.cache);
  }
}

function checked(e: Evaluation, key: string): Evaluation {
  if (!e || !Array.isArray(e.objectives) || e.objectives.length === 0 || !e.objectives.every(Number.isFinite)) {
    throw new Error(`NSGA-II: evaluate(${key}) returned objectives that are not finite numbers: ${JSON.stringify(e?.objectives)}`);
  }
  if (!Number.isFinite(e.violation) || e.violation < 0) {
    throw new Error(`NSGA-II: evaluate(${key}) returned violation ${e.violation}; it must be a finite number ≥ 0`);
  }
  return { objectives: [...e.objectives], violation: e.violation };
}
