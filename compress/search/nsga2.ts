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
import { crowdingDistance, nonDominatedSort, type Evaluation } from './ranking.js';

export type { Evaluation } from './ranking.js';
export { constrainedDominates, crowdingDistance, nonDominatedSort } from './ranking.js';

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
  /** Crowding distance within its front (Infinity at the front's ends; JSON writes that as null, and a step recomputes it). */
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
   * [genome key, evaluation] for every genome evaluated in this run, in the
   * order evaluated (added to the contract: the cache must travel with the
   * state, or a resumed run would re-evaluate and count differently from an
   * uninterrupted one). Absent = empty. A list, not a keyed object: copying a
   * 20,000-key object each generation cost 40-100 ms (ZDT1, 100 × 200).
   */
  evaluated?: [key: string, evaluation: Evaluation][];
}

/** How often a duplicate child (or initial genome) is re-drawn before it is accepted. */
const REDRAWS = 8;

/** The rank-0 feasible individuals of the population. */
export function paretoFront<G>(state: Nsga2State<G>): Individual<G>[] {
  return state.population.filter((i) => i.rank === 0 && i.violation <= 0);
}

/** Generation 0: populationSize random genomes (distinct keys where the space allows), evaluated and ranked. */
export function initNsga2<G>(problem: SearchProblem<G>, o: { populationSize: number; seed: number }): Nsga2State<G> {
  if (!Number.isInteger(o.populationSize) || o.populationSize < 2) {
    throw new Error(`NSGA-II: populationSize must be an integer ≥ 2, got ${o.populationSize}`);
  }
  if (!Number.isInteger(o.seed)) throw new Error(`NSGA-II: seed must be an integer, got ${o.seed}`);
  const rng = generationRng(o.seed, 0);
  const run = new Run(problem, []);
  const members: Member<G>[] = [];
  const keys = new Set<string>();
  while (members.length < o.populationSize) {
    let g = problem.random(rng);
    let k = problem.key(g);
    for (let t = 0; t < REDRAWS && keys.has(k); t++) k = problem.key((g = problem.random(rng)));
    keys.add(k);
    members.push(run.member(g, k));
  }
  const population = ranked(members.map((m) => m.individual));
  return { seed: o.seed, populationSize: o.populationSize, generation: 0, evaluations: run.evaluations, population, evaluated: run.entries() };
}

/** One generation: N offspring by tournament, crossover and mutation, then the best N of parents ∪ offspring. The state given is not changed. */
export function stepNsga2<G>(problem: SearchProblem<G>, state: Nsga2State<G>): Nsga2State<G> {
  checkState(state);
  const generation = state.generation + 1;
  const rng = generationRng(state.seed, generation);
  const run = new Run(problem, state.evaluated ?? []);
  const n = state.populationSize;
  const parents: Member<G>[] = state.population.map((i) => ({ individual: { ...i }, key: problem.key(i.genome) }));
  // The mating pool: the parents with rank and crowding recomputed (not read from the state).
  const pool = ranked(parents.map((m) => m.individual));

  const keys = new Set(parents.map((m) => m.key));
  const offspring: Member<G>[] = [];
  while (offspring.length < n) {
    let children = breed(problem, pool, rng);
    const known = () => children.some((c) => keys.has(c.key)) || children[0].key === children[1].key;
    for (let t = 0; t < REDRAWS && known(); t++) children = breed(problem, pool, rng);
    for (const c of children) {
      if (offspring.length === n) break;
      keys.add(c.key);
      offspring.push(run.member(c.genome, c.key));
    }
  }

  const population = ranked(survivors([...parents, ...offspring], n));
  return {
    seed: state.seed,
    populationSize: n,
    generation,
    evaluations: state.evaluations + run.evaluations,
    population,
    evaluated: run.entries(),
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

/** An individual with its genome's key, computed once per step (a key can cost microseconds: 30 floats joined). */
interface Member<G> {
  individual: Individual<G>;
  key: string;
}

/** Two tournaments pick the parents; the problem's crossover and mutate make two children. */
function breed<G>(problem: SearchProblem<G>, population: ReadonlyArray<Individual<G>>, rng: () => number): { genome: G; key: string }[] {
  const a = tournament(population, rng);
  const b = tournament(population, rng);
  return problem.crossover(a.genome, b.genome, rng).map((c) => {
    const genome = problem.mutate(c, rng);
    return { genome, key: problem.key(genome) };
  });
}

/**
 * (μ+λ) survival: whole fronts while they fit, the last one cut by crowding
 * (largest first). Duplicate keys are dropped first and only used to fill
 * the population when there are fewer than n distinct genomes.
 */
function survivors<G>(merged: Member<G>[], n: number): Individual<G>[] {
  const seen = new Set<string>();
  const distinct: Individual<G>[] = [];
  const duplicates: Individual<G>[] = [];
  for (const m of merged) {
    (seen.has(m.key) ? duplicates : distinct).push(m.individual);
    seen.add(m.key);
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

/**
 * The lookup Map of a state's `evaluated` list, handed from each step to the
 * next: rebuilding a 20,000-entry Map every generation took a third of a
 * ZDT run (100 × 200). A step takes the Map away from the list it reads
 * (so stepping that state again rebuilds it from the list, unchanged) and
 * gives it to the list it returns. States are data: never mutate `evaluated`.
 */
const lookups = new WeakMap<object, Map<string, Evaluation>>();

/** One step's evaluation cache (seeded from the state's) and its count of real evaluations. */
class Run<G> {
  evaluations = 0;
  private readonly cache: Map<string, Evaluation>;
  private readonly added: [string, Evaluation][] = [];

  constructor(
    private readonly problem: SearchProblem<G>,
    private readonly evaluated: [string, Evaluation][],
  ) {
    const handed = lookups.get(evaluated);
    lookups.delete(evaluated);
    this.cache = handed ?? new Map(evaluated.map(([key, e]) => [key, checkedEntry(key, e)]));
  }

  member(genome: G, key: string): Member<G> {
    let e = this.cache.get(key);
    if (!e) {
      e = checked(this.problem.evaluate(genome), key);
      this.evaluations++;
      this.cache.set(key, e);
      this.added.push([key, e]);
    }
    return { individual: { genome, objectives: [...e.objectives], violation: e.violation, rank: 0, crowding: 0 }, key };
  }

  entries(): [string, Evaluation][] {
    const all = this.evaluated.concat(this.added);
    lookups.set(all, this.cache);
    return all;
  }
}

/** A state read back from a file is checked before it is stepped: one clear line for what is wrong. */
function checkState<G>(state: Nsga2State<G>): void {
  const bad = (what: string) => {
    throw new Error(`NSGA-II: not a search state: ${what}`);
  };
  if (!state || typeof state !== 'object') bad('not an object');
  if (!Number.isInteger(state.seed)) bad(`seed ${JSON.stringify(state.seed)} is not an integer`);
  if (!Number.isInteger(state.generation) || state.generation < 0) bad(`generation ${JSON.stringify(state.generation)}`);
  if (!Number.isInteger(state.evaluations) || state.evaluations < 0) bad(`evaluations ${JSON.stringify(state.evaluations)}`);
  if (!Number.isInteger(state.populationSize) || state.populationSize < 2) bad(`populationSize ${JSON.stringify(state.populationSize)}`);
  if (!Array.isArray(state.population) || state.population.length === 0) bad('no population');
  for (const i of state.population) {
    if (!i || !Array.isArray(i.objectives) || !i.objectives.every(Number.isFinite) || !(i.violation >= 0)) bad('an individual without finite objectives and violation ≥ 0');
  }
  if (state.evaluated !== undefined && !(Array.isArray(state.evaluated) && state.evaluated.every((e) => Array.isArray(e) && e.length === 2))) {
    bad('evaluated is not a list of [key, evaluation]');
  }
}

/** An entry of a state's `evaluated` list read back from a file (a list handed on by the previous step is trusted). */
function checkedEntry(key: unknown, e: Evaluation): Evaluation {
  if (typeof key !== 'string') throw new Error(`NSGA-II: not a search state: evaluated holds a key that is not a string (${JSON.stringify(key)})`);
  if (!e || !Array.isArray(e.objectives) || !e.objectives.every(Number.isFinite) || !(e.violation >= 0)) {
    throw new Error(`NSGA-II: not a search state: the evaluation of ${key.slice(0, 80)} lacks finite objectives and a violation ≥ 0`);
  }
  return e;
}

function checked(e: Evaluation, key: string): Evaluation {
  if (!e || !Array.isArray(e.objectives) || e.objectives.length === 0 || !e.objectives.every(Number.isFinite)) {
    throw new Error(`NSGA-II: evaluate(${key.slice(0, 80)}) returned objectives that are not finite numbers: ${JSON.stringify(e?.objectives)}`);
  }
  if (!Number.isFinite(e.violation) || e.violation < 0) {
    throw new Error(`NSGA-II: evaluate(${key.slice(0, 80)}) returned violation ${e.violation}; it must be a finite number ≥ 0`);
  }
  return { objectives: [...e.objectives], violation: e.violation };
}
