// Candidate ladders: a ladder is a list of recipes, a recipe a sequence of
// compress/ steps applied to the base model. Adding a variant is one line in
// a recipe list; adding a method is one entry in STEPS.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { calibrationFromFiles, modelInputSize, type CalibrationSet } from '../../compress/calibration.js';
import { modelCost } from '../../compress/cost.js';
import { loadDataset } from '../../compress/detect/dataset.js';
import type { Detector } from '../../compress/detect/detector.js';
import { evaluateMap } from '../../compress/detect/evaluate.js';
import { measureFidelity, modelDetector } from '../../compress/fidelity.js';
import { readLineage, type Lineage } from '../../compress/lineage.js';
import { weightFormat } from '../../compress/onnx/info.js';
import type { Model } from '../../compress/onnx/ir.js';
import { writeModelFile } from '../../compress/onnx/write.js';
import { quantizeModel } from '../../compress/quantize/quantize.js';
import { convertToFp16 } from '../../compress/fp16.js';
import { resizeModel } from '../../compress/resize.js';
import { pruneModel } from '../../compress/prune/prune.js';
import type { ImportanceMethod } from '../../compress/prune/importance.js';
import { factorizeModel } from '../../compress/factorize/factorize.js';
import type { Accuracy } from '../policy.js';
import type { LadderName } from './ladder-options.js';
import { dequantizeModel } from '../../compress/onnx/dequantize.js';
import { EdgefitError } from '../../protocol/errors.js';

export type Step =
  | { op: 'resize'; imgsz: number }
  | { op: 'int8' }
  | { op: 'fp16' }
  /** Channel pruning to a FLOPs cut, allocated by measured sensitivity and reconstructed from calibration activations. */
  | { op: 'prune'; method: ImportanceMethod; flopsCut: number }
  /** Conv factorization to a FLOPs cut, recalibrated on calibration images; spatial also refits its last convs. */
  | { op: 'factorize'; method: 'dws' | 'spatial'; flopsCut: number; refit?: boolean };

export interface Recipe {
  name: string;
  steps: Step[];
}


/** Every size × precision pair as recipes; the base size needs no resize step. */
export function sizeByPrecision(sizes: readonly number[], precisions: ReadonlyArray<'fp32' | 'fp16' | 'int8'>): Recipe[] {
  const recipes: Recipe[] = [];
  for (const imgsz of sizes) {
    for (const precision of precisions) {
      const steps: Step[] = [{ op: 'resize', imgsz }];
      if (precision !== 'fp32') steps.push({ op: precision });
      recipes.push({ name: `${precision}-${imgsz}`, steps });
    }
  }
  return recipes;
}

/**
 * Structural variants at the base input size: sensitivity-allocated pruning
 * with reconstruction, depthwise-separable and spatial (refitted)
 * factorization, each alone and with int8, and pruning at a smaller input.
 */
export function compressionRecipes(smallerSize?: number): Recipe[] {
  const prune = (flopsCut: number): Step => ({ op: 'prune', method: 'l1', flopsCut });
  const recipes: Recipe[] = [
    { name: 'prune25', steps: [prune(0.25)] },
    { name: 'prune50', steps: [prune(0.5)] },
    { name: 'prune25-int8', steps: [prune(0.25), { op: 'int8' }] },
    { name: 'prune50-int8', steps: [prune(0.5), { op: 'int8' }] },
    { name: 'dws30', steps: [{ op: 'factorize', method: 'dws', flopsCut: 0.3 }] },
    { name: 'dws30-int8', steps: [{ op: 'factorize', method: 'dws', flopsCut: 0.3 }, { op: 'int8' }] },
    { name: 'spatial20', steps: [{ op: 'factorize', method: 'spatial', flopsCut: 0.2, refit: true }] },
    { name: 'spatial20-int8', steps: [{ op: 'factorize', method: 'spatial', flopsCut: 0.2, refit: true }, { op: 'int8' }] },
  ];
  if (smallerSize) recipes.push({ name: `prune25-${smallerSize}`, steps: [{ op: 'resize', imgsz: smallerSize }, prune(0.25)] });
  return recipes;
}

/**
 * The named ladders. `default` is 640/512/416/320 × fp32/fp16/int8 (12), and
 * for a real model with calibration images also the structural variants of
 * compressionRecipes (they need real activations to allocate and reconstruct;
 * on synthetic weights they would only cost build time); `quick` is small
 * enough to build and profile in a couple of minutes on two cores (what
 * `edgefit up` rolls out).
 */
export function ladderRecipes(name: LadderName, sizes?: readonly number[], o: { calibrated?: boolean } = {}): Recipe[] {
  switch (name) {
    case 'default': {
      const s = sizes ?? [640, 512, 416, 320];
      return [...sizeByPrecision(s, ['fp32', 'fp16', 'int8']), ...(o.calibrated ? compressionRecipes(s.find((x) => x < s[0])) : [])];
    }
    case 'quick':
      return sizeByPrecision(sizes ?? [320, 256, 192, 160], ['fp32', 'int8']);
    case 'searched':
      // no fixed recipes: the search chooses each candidate's whole recipe (searched-ladder.ts)
      return [];
  }
}

interface StepContext {
  baseSha256: string;
  synthetic: boolean;
  /**
   * Calibration inputs at a given size (the calibration half of the images);
   * with `views`, augmented views fill a few images up to 16 inputs (for the
   * fits of pruning recovery and sensitivity, not for quantization ranges).
   */
  calibration(size: number, views?: boolean): Promise<CalibrationSet>;
}

type StepFn<S extends Step> = (model: Model, step: S, ctx: StepContext) => Promise<Model>;

/** Input-size variant: same weights, the Detect head's anchors and strides regenerated for the new size. */
const resize: StepFn<Extract<Step, { op: 'resize' }>> = async (model, step, ctx) => {
  if (modelInputSize(model) === step.imgsz) return model;
  return resizeModel(model, step.imgsz, { baseSha256: ctx.baseSha256 }).model;
};

const int8: StepFn<Extract<Step, { op: 'int8' }>> = async (model, _step, ctx) => {
  const calibration = await ctx.calibration(modelInputSize(model));
  return (await quantizeModel(model, calibration, { baseSha256: ctx.baseSha256 })).model;
};

const fp16: StepFn<Extract<Step, { op: 'fp16' }>> = async (model, _step, ctx) => convertToFp16(model, { baseSha256: ctx.baseSha256 }).model;

const prune: StepFn<Extract<Step, { op: 'prune' }>> = async (model, step, ctx) => {
  const calibration = await ctx.calibration(modelInputSize(model), true);
  return (await pruneModel(model, { method: step.method, flopsCut: step.flopsCut, sensitivity: true, reconstruct: true, calibration, baseSha256: ctx.baseSha256 })).model;
};

const factorize: StepFn<Extract<Step, { op: 'factorize' }>> = async (model, step, ctx) => {
  const calibration = await ctx.calibration(modelInputSize(model));
  return (await factorizeModel(model, { method: step.method, flopsCut: step.flopsCut, ...(step.refit ? { refit: { calibration } } : {}), recalibrate: { calibration }, baseSha256: ctx.baseSha256 })).model;
};

async function applyStep(model: Model, step: Step, ctx: StepContext): Promise<Model> {
  switch (step.op) {
    case 'prune':
      return prune(model, step, ctx);
    case 'factorize':
      return factorize(model, step, ctx);
    case 'resize':
      return resize(model, step, ctx);
    case 'int8':
      return int8(model, step, ctx);
    case 'fp16':
      return fp16(model, step, ctx);
  }
}

/** Deterministic smooth pseudo-images for calibrating synthetic models, whose weights see nothing real anyway. */
export function syntheticCalibration(size: number, count = 4): CalibrationSet {
  const inputs: Float32Array[] = [];
  for (let k = 0; k < count; k++) {
    const t = new Float32Array(3 * size * size);
    for (let c = 0; c < 3; c++) {
      for (let y = 0; y < size; y++) {
        for (let x = 0; x < size; x++) {
          t[c * size * size + y * size + x] = 0.5 + 0.45 * Math.sin((x * (c + 1) + y * (k + 2)) / (size / 6) + k);
        }
      }
    }
    inputs.push(t);
  }
  return { files: inputs.map((_, i) => `synthetic-${i}`), inputs, size };
}

export interface LadderInput {
  base: Model;
  baseSha256: string;
  synthetic: boolean;
  recipes: Recipe[];
  outDir: string;
  /** Calibration images; without --eval, half calibrate and the other half measure. */
  calibDir?: string;
  evalDir?: string;
}

export interface GeneratedCandidate {
  name: string;
  method: string;
  recipe: Recipe;
  family: string;
  imgsz: number;
  file: string;
  sizeBytes: number;
  parameters: number;
  flops: number;
  accuracy: Accuracy;
  lineage: Lineage | null;
}

export interface SkippedRecipe {
  name: string;
  reason: string;
}

export type Progress = (done: number, total: number, message: string) => void;

/** The method label of a recipe: its steps joined, 'base' for none. */
export function methodOf(recipe: Recipe): string {
  const label = (s: Step) => (s.op === 'resize' ? `imgsz${s.imgsz}` : s.op === 'prune' ? `prune-${s.method}${Math.round(s.flopsCut * 100)}` : s.op === 'factorize' ? `${s.method}${Math.round(s.flopsCut * 100)}${s.refit ? '-refit' : ''}` : s.op);
  return recipe.steps.map(label).join('+') || 'base';
}

export function familyOf(model: Model): string {
  const format = weightFormat(model);
  return format === 'qdq-int8' || format === 'dynamic-int8' || format === 'qoperator-int8' ? 'int8' : format === 'fp16' ? 'fp16' : 'fp32';
}

interface Evaluator {
  kind: 'fidelity' | 'map50-95';
  measure(model: Model): Promise<number>;
  close(): Promise<void>;
}

async function openEvaluator(input: LadderInput, heldOut: string[]): Promise<Evaluator | undefined> {
  if (input.synthetic || heldOut.length === 0) return undefined;
  if (input.evalDir) {
    const dataset = await loadDataset(input.evalDir);
    if (dataset.labeled) {
      return {
        kind: 'map50-95',
        async measure(model) {
          const detector = await modelDetector(model);
          try {
            return (await evaluateMap(detector, dataset)).map50_95;
          } finally {
            await detector.session.release();
          }
        },
        close: async () => undefined,
      };
    }
  }
  const baseline: Detector = await modelDetector(input.base);
  return {
    kind: 'fidelity',
    measure: async (model) => (await measureFidelity(model, baseline, heldOut)).fidelity,
    close: () => baseline.session.release(),
  };
}

/**
 * Builds every recipe of the ladder, writes each candidate to outDir and
 * measures its accuracy on held-out images. Synthetic bases never get an
 * accuracy; a recipe a model cannot take (an unavailable method) is skipped
 * with its reason rather than failing the ladder.
 */
export async function generateLadder(input: LadderInput, progress: Progress = () => undefined): Promise<{ candidates: GeneratedCandidate[]; skipped: SkippedRecipe[] }> {
  mkdirSync(input.outDir, { recursive: true });
  const calibFiles = input.calibDir ? (await loadDataset(input.calibDir)).items.map((i) => i.imagePath) : [];
  // Held-out split: calibrate on the even images, measure on the odd ones, unless --eval gives its own.
  const heldOut = input.evalDir ? (await loadDataset(input.evalDir)).items.map((i) => i.imagePath) : calibFiles.filter((_, i) => i % 2 === 1);
  const calibCache = new Map<string, CalibrationSet>();
  const ctx: StepContext = {
    baseSha256: input.baseSha256,
    synthetic: input.synthetic,
    async calibration(size, views = false) {
      const key = `${size}:${views}`;
      let set = calibCache.get(key);
      if (!set) {
        if (!input.calibDir) {
          if (!input.synthetic) throw new EdgefitError('E_LADDER', { reason: 'int8 needs calibration images: give --calib DIR' });
          set = syntheticCalibration(size);
        } else {
          const first = calibFiles.slice(0, 64);
          const files = input.evalDir ? first : first.filter((_, i) => i % 2 === 0);
          set = await calibrationFromFiles(files, size, { minInputs: views ? 16 : 1 });
        }
        calibCache.set(key, set);
      }
      return set;
    },
  };
  // Recipes start from float weights, so an int8 upload's fp32 candidates are what their names say
  // (a QOperator graph cannot be dequantized: its recipes fail one by one, as before). Accuracy is
  // still judged against the model as uploaded.
  const format = weightFormat(input.base);
  const start = format === 'qdq-int8' || format === 'dynamic-int8' ? dequantizeModel(input.base, { baseSha256: input.baseSha256 }).model : input.base;
  const evaluator = await openEvaluator(input, heldOut);
  const candidates: GeneratedCandidate[] = [];
  const skipped: SkippedRecipe[] = [];
  // Recipes that share leading steps (spatial20, spatial20-int8) build them once.
  const keyOf = (steps: readonly Step[]) => JSON.stringify(steps);
  const uses = new Map<string, number>();
  for (const r of input.recipes) for (const k of r.steps.keys()) uses.set(keyOf(r.steps.slice(0, k + 1)), (uses.get(keyOf(r.steps.slice(0, k + 1))) ?? 0) + 1);
  const built = new Map<string, Model>();
  try {
    for (const [i, recipe] of input.recipes.entries()) {
      progress(i, input.recipes.length, `building ${recipe.name}`);
      let model = start;
      try {
        for (const [k, step] of recipe.steps.entries()) {
          const key = keyOf(recipe.steps.slice(0, k + 1));
          const cached = built.get(key);
          model = cached ?? (await applyStep(model, step, ctx));
          if (!cached && (uses.get(key) ?? 0) > 1) built.set(key, model);
        }
      } catch (err) {
        skipped.push({ name: recipe.name, reason: (err as Error).message });
        continue;
      }
      const file = path.join(input.outDir, `${recipe.name}.onnx`);
      const bytes = writeModelFile(model, file);
      const cost = modelCost(model);
      let accuracy: Accuracy = input.synthetic ? { value: null, kind: 'none-synthetic' } : { value: null, kind: 'fidelity' };
      if (evaluator) {
        progress(i, input.recipes.length, `measuring ${recipe.name} (${evaluator.kind})`);
        accuracy = { value: await evaluator.measure(model), kind: evaluator.kind };
      }
      candidates.push({
        name: recipe.name,
        method: methodOf(recipe),
        recipe,
        family: familyOf(model),
        imgsz: modelInputSize(model),
        file,
        sizeBytes: bytes.byteLength,
        parameters: cost.parameters,
        flops: cost.flops,
        accuracy,
        lineage: readLineage(model),
      });
    }
  } finally {
    await evaluator?.close();
  }
  progress(input.recipes.length, input.recipes.length, `built ${candidates.length} candidate(s)${skipped.length ? `, skipped ${skipped.length}` : ''}`);
  return { candidates, skipped };
}
