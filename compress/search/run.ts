// runSearch: the whole search for one base model. Set-up (the prune
// sensitivity profile, the space, the measured loss terms, the latency
// predictor), NSGA-II for `generations` with its state saved after every
// generation (resumed when the state file is there and from the same search),
// then the final front: `front` points of the predicted front (hypervolume subset),
// built (recovered when asked), measured on held-out images, and timed when
// the caller can time them. Every latency is for `threads` onnxruntime
// threads: the predictor's and measureLatency's.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { codedError } from '../../protocol/errors.js';
import { calibrationFromFiles, type CalibrationSet } from '../calibration.js';
import { Detector } from '../detect/detector.js';
import { measureFidelity } from '../fidelity.js';
import type { Precision } from '../latency/features.js';
import type { LatencyPredictor } from '../latency/predict.js';
import type { Model } from '../onnx/ir.js';
import { writeModel } from '../onnx/write.js';
import { buildGenome, type BuildContext } from './build.js';
import { genomeProblemParts, type Genome } from './genome.js';
import { initNsga2, paretoFront, stepNsga2, type Individual, type Nsga2State, type SearchProblem } from './nsga2.js';
import { searchProxy } from './proxy.js';
import { genomeShapes, shapeContext } from './shapes.js';
import { seededProblem, seedGenomes } from './seeds.js';
import { searchSpace, type SearchSpace, type SpaceOptions } from './space.js';
import { measurePruneProfile, measureRecoveryScale, measureTerms, type RecoveryScale } from './terms.js';

export class SearchError extends codedError('E_SEARCH') {
  override name = 'SearchError';
}

export interface SearchProgress {
  stage: string;
  done: number;
  total: number;
  message?: string;
}

export interface SearchOptions {
  base: Model;
  baseSha256: string;
  calibration: CalibrationSet;
  /** Image files, never calibration images. */
  heldOut: string[];
  /** Fitted for the class (controller); absent → fitPredictor is called (it op-profiles on this machine). */
  predictor?: LatencyPredictor;
  /** Added to the contract: compress/ knows nothing of the agent's profiler, so the caller hands in how to fit one locally. */
  fitPredictor?: (space: SearchSpace) => Promise<LatencyPredictor>;
  /** The onnxruntime thread count the latencies are for (stated with every figure). */
  threads: number;
  populationSize: number;
  generations: number;
  seed: number;
  front: number;
  sizes: number[];
  precisions: Precision[];
  slo?: { maxLatencyMs?: number };
  reconstruct: boolean;
  /** Added: prune groups with a producing conv whose node name matches stay whole (as `prune --ignore`). */
  ignore?: readonly RegExp[];
  /** Added: the factorization genes (space.ts; false leaves factorization out). */
  factor?: SpaceOptions['factor'];
  statePath?: string;
  cacheDir?: string;
  /** Added to the contract: times the front's models (one live session at a time, `threads` threads), ms each; absent → not measured. */
  measureLatency?: (models: Model[]) => Promise<number[]>;
  onProgress?: (p: SearchProgress) => void;
}

export interface SearchedCandidate {
  name: string;
  genome: Genome;
  model: Model;
  predictedMs: number;
  predictedLoss: number;
  /** Measured on the held-out images. */
  fidelity: number;
  measuredMs?: number;
}

export interface SearchResult {
  front: SearchedCandidate[];
  generations: number;
  evaluations: number;
  seconds: number;
  /** Added: how long set-up (profiles, terms, predictor), the generations and the front's build and measurement took. */
  stageSeconds: { setup: number; search: number; front: number };
  /** With reconstruct: the prune and factor recovery curves (a·S^b of a kind's summed terms), and the probes they were fitted on. */
  recoveryScale?: RecoveryScale;
  space: SearchSpace;
}

const STATE_FORMAT = 'edgefit-search-state-1';

interface SavedState {
  format: typeof STATE_FORMAT;
  baseSha256: string;
  spaceKey: string;
  seed: number;
  populationSize: number;
  state: Nsga2State<Genome>;
}

export const spaceKey = (space: SearchSpace): string => createHash('sha256').update(JSON.stringify(space)).digest('hex').slice(0, 16);

/** The saved state, or undefined when there is none; a state of another search or a broken file is a SearchError. */
export function loadState(file: string, want: Omit<SavedState, 'format' | 'state'>): Nsga2State<Genome> | undefined {
  if (!existsSync(file)) return undefined;
  let saved: SavedState;
  try {
    saved = JSON.parse(readFileSync(file, 'utf8')) as SavedState;
  } catch (err) {
    throw new SearchError(`search state ${file} is not JSON (${(err as Error).message}); remove it to start afresh`);
  }
  if (saved?.format !== STATE_FORMAT || !saved.state || !Array.isArray(saved.state.population) || typeof saved.state.generation !== 'number') {
    throw new SearchError(`search state ${file} is not an edgefit search state (format '${String(saved?.format)}'); remove it to start afresh`);
  }
  const differs = (['baseSha256', 'spaceKey', 'seed', 'populationSize'] as const).filter((k) => saved[k] !== want[k]);
  if (differs.length) {
    throw new SearchError(`search state ${file} belongs to another search (its ${differs.map((k) => `${k} ${saved[k]} ≠ ${want[k]}`).join(', ')}); remove it or give another --state`);
  }
  return saved.state;
}

/** Written beside and renamed over: a crash mid-write leaves the previous generation's state. */
export function saveState(file: string, saved: Omit<SavedState, 'format'>): void {
  mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify({ format: STATE_FORMAT, ...saved }));
  renameSync(tmp, file);
}

/**
 * `count` points of a front: its least lossy point, and with it the points
 * whose set dominates the most area of the (latency, loss) plane up to
 * loss = refLoss and the least lossy point's latency: the two-objective
 * hypervolume subset selection, solved exactly by dynamic programming over
 * the front sorted by latency (each chosen point covers from its latency to
 * the next chosen one's, from its loss up to refLoss). Spreading evenly along
 * predicted latency instead wasted picks where the front has a gap (nothing
 * between int8 640 at 35 ms and fp16 at 61 ms on yolov8n) and skipped knees:
 * it took int8 416 and int8 576 with pruning but not int8 512, which the
 * ladder then beat (bench/search.bench.ts, 18 of 21). The fastest point is
 * not kept for its own sake: kept, it spent a pick on a genome predicted to
 * lose nearly every box (int8 320 with 10 groups and 2 convs cut, predicted
 * loss 0.96, held-out fidelity 0.31), and the pick the ladder's int8 320 then
 * beat went missing (19 of 21 twice); free, the area takes plain int8 320
 * and int8 416 there. The least lossy point is kept: it covers no area (the
 * latency bound is its own) and it is the candidate that gives nothing up.
 */
export function spreadAlongFront<G>(front: readonly Individual<G>[], count: number, refLoss = USEFUL_LOSS): Individual<G>[] {
  const sorted = [...front].sort((a, b) => a.objectives[0] - b.objectives[0] || a.objectives[1] - b.objectives[1]);
  // one point per objective pair: a duplicate covers nothing
  const points = sorted.filter((p, i) => i === 0 || p.objectives[0] !== sorted[i - 1].objectives[0] || p.objectives[1] !== sorted[i - 1].objectives[1]);
  if (points.length <= count) return points;
  if (count <= 0) return [];
  const n = points.length;
  const x = points.map((p) => p.objectives[0]);
  const y = points.map((p) => p.objectives[1]);
  const covered = (a: number, b: number) => (x[b] - x[a]) * Math.max(0, refLoss - y[a]);
  // best[j][b]: the most area of a chain of j + 1 points ending at b (it may start anywhere); from[j][b]: the point before b
  const best = Array.from({ length: count }, () => new Array<number>(n).fill(-Infinity));
  const from = Array.from({ length: count }, () => new Array<number>(n).fill(-1));
  best[0].fill(0);
  for (let j = 1; j < count; j++) {
    for (let b = j; b < n; b++) {
      for (let a = j - 1; a < b; a++) {
        const v = best[j - 1][a] + covered(a, b);
        if (v > best[j][b]) [best[j][b], from[j][b]] = [v, a];
      }
    }
  }
  const chain: number[] = [];
  for (let j = count - 1, b = n - 1; j >= 0; b = from[j][b], j--) chain.unshift(b);
  return chain.map((i) => points[i]);
}

/**
 * A predicted loss above 1 is a candidate predicted to lose every base box
 * (1 − fidelity alone reaches 1): the fast end of a front is full of them (in a
 * 128 px trial, every conv factorized: predicted 8.75, held-out fidelity 0.000).
 * The front is spread over the points predicted below it, and filled from the
 * others, least loss first, only when those are too few.
 */
export const USEFUL_LOSS = 1;

export function chooseFront<G>(front: readonly Individual<G>[], count: number): Individual<G>[] {
  const useful = front.filter((i) => i.objectives[1] <= USEFUL_LOSS);
  const chosen = spreadAlongFront(useful, count);
  const rest = front.filter((i) => i.objectives[1] > USEFUL_LOSS).sort((a, b) => a.objectives[1] - b.objectives[1]);
  return [...chosen, ...rest.slice(0, count - chosen.length)].sort((a, b) => a.objectives[0] - b.objectives[0]);
}

export const genomeLabel = (g: Genome, space: SearchSpace): string => {
  const pruned = g.prune.filter((i) => i > 0).length;
  const factored = g.factor.filter((i) => i > 0).length;
  return `${g.precision} ${g.size}${pruned ? ` prune ${pruned}/${space.groups.length}` : ''}${factored ? ` factor ${factored}/${space.convs.length}` : ''}`;
};

/**
 * The calibration set at any size, from the same image files: with views
 * (as given at its own size, else filled up to 16 inputs) when asked (pruning
 * recovery's fits), else one input per image (quantization ranges), as the
 * ladder's StepContext does.
 */
function calibrationAt(given: CalibrationSet): BuildContext['calibration'] {
  const cache = new Map<string, Promise<CalibrationSet>>();
  return (size, views = false) => {
    // the given set (views filling 16 inputs) for recovery fits; for int8 ranges one input per image, as the
    // ladder: int8 640 calibrated on the 16 views held 0.852 held-out fidelity (six images), the ladder's 0.997
    if (size === given.size && views) return Promise.resolve(given);
    const key = `${size}:${views}`;
    if (!cache.has(key)) cache.set(key, calibrationFromFiles(given.files, size, { minInputs: views ? 16 : 1 }));
    return cache.get(key)!;
  };
}

export async function runSearch(o: SearchOptions): Promise<SearchResult> {
  const t0 = performance.now();
  const progress = (stage: string, done: number, total: number, message?: string) => o.onProgress?.({ stage, done, total, message });
  if (o.populationSize < 4) throw new SearchError(`population ${o.populationSize} is too small for NSGA-II (4 at least)`);
  if (o.front < 1) throw new SearchError(`front ${o.front}: ask for 1 candidate at least`);
  if (o.heldOut.some((f) => o.calibration.files.includes(f))) throw new SearchError('a held-out image is also a calibration image: fidelity on it would flatter the front');

  const pruneProfile = await measurePruneProfile(o.base, { baseSha256: o.baseSha256, calibration: o.calibration, ignore: o.ignore, cacheDir: o.cacheDir, onProgress: (d, t) => progress('prune sensitivity', d, t) });
  const space = searchSpace(o.base, { sizes: o.sizes, precisions: o.precisions, pruneProfile, factor: o.factor });
  // a state of another search is refused before minutes of measuring terms
  const identity = { baseSha256: o.baseSha256, spaceKey: spaceKey(space), seed: o.seed, populationSize: o.populationSize };
  const saved = o.statePath ? loadState(o.statePath, identity) : undefined;
  const calibration = calibrationAt(o.calibration);
  const plainCtx: BuildContext = { calibration, baseSha256: o.baseSha256, reconstruct: false, cacheDir: o.cacheDir };
  const measured = await measureTerms({ base: o.base, baseSha256: o.baseSha256, space, calibration: o.calibration, pruneProfile, build: (g) => buildGenome(o.base, space, g, plainCtx), cacheDir: o.cacheDir, onProgress: (d, t) => progress('loss terms', d, t) });
  // the front is built recovered: each kind's unrecovered sum goes through its recovery curve (terms.ts)
  const recovery = o.reconstruct
    ? await measureRecoveryScale({ base: o.base, baseSha256: o.baseSha256, space, terms: measured, calibration: o.calibration, buildRecovered: (g, fitOn) => buildGenome(o.base, space, g, { ...plainCtx, calibration: calibrationAt(fitOn), reconstruct: true }), cacheDir: o.cacheDir, onProgress: (d, t) => progress('recovery scale', d, t) })
    : undefined;
  let predictor = o.predictor;
  if (!predictor) {
    if (!o.fitPredictor) throw new SearchError('no latency predictor: give one fitted for the class, or a way to fit one on this machine');
    progress('latency predictor', 0, 1);
    predictor = await o.fitPredictor(space);
    progress('latency predictor', 1, 1);
  }
  const ctx = await shapeContext(o.base, space, (size) => calibration(size));
  const proxy = searchProxy({ predictor, shapes: (g) => genomeShapes(ctx, g), terms: measured, ...(recovery ? { curves: recovery } : {}), maxLatencyMs: o.slo?.maxLatencyMs });
  const problem: SearchProblem<Genome> = { ...genomeProblemParts(space), evaluate: (g) => proxy.evaluate(g) };
  const setupS = (performance.now() - t0) / 1000;

  const t1 = performance.now();
  let state = saved ?? initNsga2(seededProblem(problem, seedGenomes(o.base, space, pruneProfile), o.populationSize), { populationSize: o.populationSize, seed: o.seed });
  if (o.statePath) saveState(o.statePath, { ...identity, state });
  while (state.generation < o.generations) {
    state = stepNsga2(problem, state);
    if (o.statePath) saveState(o.statePath, { ...identity, state });
    const best = paretoFront(state);
    progress('generations', state.generation, o.generations, `${best.length} on the front, ${state.evaluations} evaluations`);
  }
  const searchS = (performance.now() - t1) / 1000;

  const t2 = performance.now();
  const chosen = chooseFront(paretoFront(state), o.front);
  if (chosen.length === 0) throw new SearchError(`no feasible candidate: nothing the search found is predicted to meet ${o.slo?.maxLatencyMs} ms`);
  const buildCtx: BuildContext = { calibration, baseSha256: o.baseSha256, reconstruct: o.reconstruct, cacheDir: o.cacheDir };
  const baseline = await Detector.create(writeModel(o.base));
  const front: SearchedCandidate[] = [];
  try {
    for (const [k, ind] of chosen.entries()) {
      progress('front', k, chosen.length, `building ${genomeLabel(ind.genome, space)}`);
      const model = await buildGenome(o.base, space, ind.genome, buildCtx);
      const fidelity = (await measureFidelity(model, baseline, o.heldOut)).fidelity;
      front.push({ name: `searched-${k + 1}`, genome: ind.genome, model, predictedMs: ind.objectives[0], predictedLoss: ind.objectives[1], fidelity });
    }
  } finally {
    await baseline.session.release();
  }
  progress('front', chosen.length, chosen.length);
  if (o.measureLatency) {
    progress('latency', 0, front.length);
    const ms = await o.measureLatency(front.map((c) => c.model));
    front.forEach((c, i) => (c.measuredMs = ms[i]));
    progress('latency', front.length, front.length);
  }
  const frontS = (performance.now() - t2) / 1000;
  return { front, generations: state.generation, evaluations: state.evaluations, seconds: (performance.now() - t0) / 1000, stageSeconds: { setup: setupS, search: searchS, front: frontS }, space, ...(recovery ? { recoveryScale: recovery } : {}) };
}
