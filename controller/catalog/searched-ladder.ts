// The 'searched' ladder (issue 21): instead of fixed recipes, the NSGA-II
// search over the whole recipe (compress/search/run.ts, runSearch) for this
// machine or, with a device class, on that class's latency predictor; each
// candidate of its front joins the ladder with method 'searched', its genome in
// the lineage (buildGenome writes the 'search' step) and its measured held-out
// fidelity, like every other candidate. Runs in the ladder worker process.
//
// Search is runSearch's type as far as this file reads its result, so the
// filing is tested with a stand-in search that returns real models in
// milliseconds.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { calibrationFromFiles, modelInputSize } from '../../compress/calibration.js';
import { modelCost } from '../../compress/cost.js';
import { loadDataset } from '../../compress/detect/dataset.js';
import type { LatencyPredictor, KindModel } from '../../compress/latency/predict.js';
import type { Precision } from '../../compress/latency/features.js';
import { readLineage } from '../../compress/lineage.js';
import type { Model } from '../../compress/onnx/ir.js';
import { writeModelFile } from '../../compress/onnx/write.js';
import { EdgefitError } from '../../protocol/errors.js';
import { runSearch, type SearchedCandidate, type SearchOptions, type SearchResult } from '../../compress/search/run.js';
import { familyOf, type GeneratedCandidate, type Progress } from './ladder.js';

/** A class's fitted predictor as it crosses to the worker process (a Map does not survive IPC). */
export interface PredictorJson {
  kinds: Array<[string, KindModel]>;
  scale: number;
  constantMs: number;
  profiles: number;
}

export const predictorToJson = (p: LatencyPredictor): PredictorJson => ({ kinds: [...p.kinds], scale: p.scale, constantMs: p.constantMs, profiles: p.profiles });
export const predictorFromJson = (j: PredictorJson): LatencyPredictor => ({ kinds: new Map(j.kinds), scale: j.scale, constantMs: j.constantMs, profiles: j.profiles });

/** The search's settings of a searched ladder; defaults are the issue's (population 48, 40 generations, a front of 8). */
export interface SearchSettings {
  /** The device class whose predictor the search runs on; absent: this machine (the search profiles locally). */
  deviceClass?: string;
  predictor?: PredictorJson;
  threads: number;
  sizes: number[];
  precisions: Precision[];
  populationSize: number;
  generations: number;
  seed: number;
  front: number;
  reconstruct: boolean;
  /** Where the search keeps its state between generations: a controller restart resumes it. */
  statePath?: string;
}

export const DEFAULT_SEARCH: Omit<SearchSettings, 'sizes'> = { threads: 1, precisions: ['fp32', 'fp16', 'int8'], populationSize: 48, generations: 40, seed: 1, front: 8, reconstruct: false };

/** Sizes a search may pick: multiples of 32 from the base size down to half of it. */
export function searchSizes(baseSize: number): number[] {
  const out: number[] = [];
  for (let s = baseSize; s >= Math.max(32, baseSize / 2); s -= 32) out.push(s);
  return out;
}

/** runSearch, as far as the filing reads its result. */
export type Search = (o: SearchOptions) => Promise<Pick<SearchResult, 'generations' | 'evaluations' | 'seconds'> & { front: Array<Pick<SearchedCandidate, 'name' | 'model' | 'fidelity'>> }>;

export interface SearchedLadderInput {
  base: Model;
  baseSha256: string;
  synthetic: boolean;
  outDir: string;
  calibDir?: string;
  evalDir?: string;
  search: SearchSettings;
}

/** Runs the search and files its front as candidates (written to outDir), each with its measured held-out fidelity and its genome's lineage. */
export async function generateSearchedLadder(input: SearchedLadderInput, progress: Progress = () => undefined, search: Search = runSearch): Promise<{ candidates: GeneratedCandidate[]; skipped: never[] }> {
  // fidelity is the objective the search trades against latency: synthetic weights have none to keep
  if (input.synthetic) throw new EdgefitError('E_LADDER', { reason: 'a searched ladder needs a model with real weights: synthetic weights have no fidelity to keep' });
  if (!input.calibDir) throw new EdgefitError('E_LADDER', { reason: 'a searched ladder needs calibration images: give --calib DIR' });
  // Searching for this machine fits a predictor with the agent's profiler (agent/profile/fit-predictor.ts),
  // which controller code may not import: until it moves under compress/, the controller
  // searches on a class's predictor, and `edgefit search MODEL` searches for the machine it runs on.
  const predictor = input.search.predictor;
  if (!predictor) throw new EdgefitError('E_LADDER', { reason: "a searched ladder on the controller needs --class C (a device class with operator profiles); to search for this machine run 'edgefit search MODEL' and import its front with 'edgefit candidates import'" });
  mkdirSync(input.outDir, { recursive: true });
  const calibFiles = (await loadDataset(input.calibDir)).items.map((i) => i.imagePath);
  // the same split as the fixed ladders: --eval's images, else the odd calibration images are held out
  const heldOut = input.evalDir ? (await loadDataset(input.evalDir)).items.map((i) => i.imagePath) : calibFiles.filter((_, i) => i % 2 === 1);
  const calibrationFiles = (input.evalDir ? calibFiles : calibFiles.filter((_, i) => i % 2 === 0)).slice(0, 64);
  if (heldOut.length === 0) throw new EdgefitError('E_LADDER', { reason: 'a searched ladder needs held-out images to measure fidelity on: give --eval DIR or at least two calibration images' });
  const calibration = await calibrationFromFiles(calibrationFiles, modelInputSize(input.base));
  const s = input.search;
  const result = await search({
    base: input.base,
    baseSha256: input.baseSha256,
    calibration,
    heldOut,
    predictor: predictorFromJson(predictor),
    threads: s.threads,
    populationSize: s.populationSize,
    generations: s.generations,
    seed: s.seed,
    front: s.front,
    sizes: s.sizes,
    precisions: s.precisions,
    reconstruct: s.reconstruct,
    ...(s.statePath ? { statePath: s.statePath } : {}),
    cacheDir: path.join(input.outDir, 'cache'),
    onProgress: (p) => progress(p.done, p.total, `${p.stage}${p.message ? `: ${p.message}` : ''}`),
  });
  const candidates = result.front.map((c): GeneratedCandidate => {
    const file = path.join(input.outDir, `${c.name}.onnx`);
    const bytes = writeModelFile(c.model, file);
    const cost = modelCost(c.model);
    return {
      name: c.name,
      method: 'searched',
      recipe: { name: c.name, steps: [] },
      family: familyOf(c.model),
      imgsz: modelInputSize(c.model),
      file,
      sizeBytes: bytes.byteLength,
      parameters: cost.parameters,
      flops: cost.flops,
      accuracy: { value: c.fidelity, kind: 'fidelity' },
      lineage: readLineage(c.model),
    };
  });
  const where = s.deviceClass ? `class ${s.deviceClass}'s latency predictor` : 'this machine';
  progress(result.generations, result.generations, `searched ${result.generations} generation(s), ${result.evaluations} genome(s) in ${Math.round(result.seconds)} s on ${where} (${s.threads} thread(s)): front of ${candidates.length}`);
  return { candidates, skipped: [] };
}
