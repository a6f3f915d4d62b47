// The measured terms of the search's loss proxy (proxy.ts), each measured once
// per base model, space and calibration set and cached in cacheDir:
//   - the prune sensitivity profile (compress/prune/sensitivity-profile.ts,
//     l1 importance, the same cache file `prune --sensitivity` writes), whose
//     levels are the space's removal counts;
//   - per (size, precision): the base resized and converted alone, judged on
//     the calibration inputs by detection fidelity against the base model at
//     its own size (the raw outputs of two sizes have different anchors, so
//     the output drift of compress/agreement.ts cannot compare them); loss =
//     1 − fidelity;
//   - per factorizable conv and option: the base with that conv alone
//     factorized, judged by compress/agreement.ts (loss = (1 − fidelity) +
//     output drift, the measure of the prune levels).
// Calibration inputs only: the held-out images judge the final front.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { AgreementJudge } from '../agreement.js';
import { calibrationDigest, sourceHalves, type CalibrationSet } from '../calibration.js';
import { Detector } from '../detect/detector.js';
import { fidelityDetections, fidelityReference } from '../detect/evaluate.js';
import type { RgbImage } from '../detect/image.js';
import { computeMap, type ImageEvaluation } from '../detect/map.js';
import { modelDetector } from '../fidelity.js';
import type { Model } from '../onnx/ir.js';
import { writeModel } from '../onnx/write.js';
import { buildDependencyGraph } from '../prune/dependency.js';
import { buildGroups, type GroupIndex } from '../prune/groups.js';
import { groupImportance, IMPORTANCE_DEFINITION } from '../prune/importance.js';
import { measureSensitivity, type SensitivityProfile } from '../prune/sensitivity-profile.js';
import { baseGenome, type Genome } from './genome.js';
import { predictedLoss, pruneTerms, sizePrecisionKey, type ProxyTerms } from './proxy.js';
import type { SearchSpace } from './space.js';

type Progress = (done: number, total: number) => void;

/** The calibration inputs the terms are judged on: at most 16, spread evenly (each judgement runs them all). */
const MAX_INPUTS = 16;

/** The importance buildGenome prunes by: l1, mean over the group, as `prune --method l1`. */
const SEARCH_IMPORTANCE = { method: 'l1', reduction: 'mean', seed: 0 } as const;

/** The base model's prune groups and each group's channel importance under SEARCH_IMPORTANCE. */
export function searchImportance(base: Model): { index: GroupIndex; importance: Float64Array[] } {
  const index = buildGroups(buildDependencyGraph(base));
  return { index, importance: index.groups.map((g) => groupImportance(index, g, SEARCH_IMPORTANCE)) };
}

/** Prune levels of the l1 criterion (the one buildGenome prunes by), as `prune --sensitivity --method l1` measures them. */
export async function measurePruneProfile(base: Model, o: { baseSha256: string; calibration: CalibrationSet; ignore?: readonly RegExp[]; cacheDir?: string; onProgress?: Progress }): Promise<SensitivityProfile> {
  const { index, importance } = searchImportance(base);
  // as `prune --ignore`: a group with a matching producing conv stays whole (no levels: the space gives it removals [0])
  const frozen = new Set<number>();
  index.groups.forEach((g, k) => {
    if (o.ignore?.some((re) => g.producers.some((p) => re.test(p.node.name)))) frozen.add(k);
  });
  return measureSensitivity(index, importance, {
    baseSha256: o.baseSha256,
    recipe: { ...SEARCH_IMPORTANCE, ignore: (o.ignore ?? []).map(String), importance: IMPORTANCE_DEFINITION },
    calibration: o.calibration,
    roundTo: 8,
    maxLayerRatio: 0.9,
    frozen,
    cacheDir: o.cacheDir,
    onProgress: o.onProgress,
  });
}

function toRgb(planes: Float32Array, size: number): RgbImage {
  const hw = size * size;
  const rgb = new Uint8Array(3 * hw);
  for (let p = 0; p < hw; p++) for (let ch = 0; ch < 3; ch++) rgb[3 * p + ch] = Math.round(Math.min(1, Math.max(0, planes[ch * hw + p])) * 255);
  return { width: size, height: size, rgb };
}

/** Detection fidelity against the base model on the calibration inputs, for a candidate of any input size. */
async function calibrationFidelity(base: Model, calibration: CalibrationSet): Promise<(m: Model) => Promise<number>> {
  const count = Math.min(MAX_INPUTS, calibration.inputs.length);
  const images = Array.from({ length: count }, (_, i) => toRgb(calibration.inputs[Math.floor((i * calibration.inputs.length) / count)], calibration.size));
  const baseline = await Detector.create(writeModel(base));
  const references: Awaited<ReturnType<typeof fidelityReference>>[] = [];
  try {
    for (const image of images) references.push(await fidelityReference(baseline, image));
  } finally {
    await baseline.session.release();
  }
  return async (m) => {
    const detector = await modelDetector(m);
    try {
      const evaluations: ImageEvaluation[] = [];
      for (const [i, image] of images.entries()) evaluations.push({ detections: (await fidelityDetections(detector, image)).detections, groundTruth: references[i] });
      return references.some((r) => r.length > 0) ? computeMap(evaluations).map50_95 : 1;
    } finally {
      await detector.session.release();
    }
  };
}

/**
 * A value measured once per key and kept in `${prefix}-${key}.json` under
 * cacheDir: read back when the file holds that key, else measured and written
 * whole (beside, then renamed over). A torn or foreign file is measured again.
 */
async function cachedJson<T>(cacheDir: string | undefined, prefix: string, identity: unknown, measure: () => Promise<T>): Promise<T> {
  const key = createHash('sha256').update(JSON.stringify(identity)).digest('hex').slice(0, 24);
  const file = cacheDir ? path.join(cacheDir, `${prefix}-${key}.json`) : undefined;
  if (file && existsSync(file)) {
    try {
      const c = JSON.parse(readFileSync(file, 'utf8')) as { key?: string; value?: T };
      if (c.key === key && c.value !== undefined) return c.value;
    } catch {
      // measured again and overwritten
    }
  }
  const value = await measure();
  if (file) {
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(`${file}.tmp`, JSON.stringify({ key, value }));
    renameSync(`${file}.tmp`, file);
  }
  return value;
}

export interface TermsInput {
  base: Model;
  baseSha256: string;
  space: SearchSpace;
  calibration: CalibrationSet;
  pruneProfile: SensitivityProfile;
  /** buildGenome without recovery: a term is the plain change, as the prune levels are. */
  build: (g: Genome) => Promise<Model>;
  cacheDir?: string;
  onProgress?: Progress;
}

export async function measureTerms(o: TermsInput): Promise<ProxyTerms> {
  const prune = pruneTerms(o.space, o.pruneProfile.groups.map((g) => g.levels));
  const identity = { base: o.baseSha256, sizes: o.space.sizes, precisions: o.space.precisions, convs: o.space.convs, calibration: calibrationDigest(o.calibration), measure: 'search-terms-2' };
  const measured = await cachedJson(o.cacheDir, 'search-terms', identity, () => measureSizeAndFactorTerms(o));
  return { ...measured, prune };
}

/** The size × precision and factorization terms (the prune terms are the sensitivity profile's). */
async function measureSizeAndFactorTerms(o: TermsInput): Promise<Omit<ProxyTerms, 'prune'>> {
  const zero = baseGenome(o.space);
  const pairs = o.space.sizes.flatMap((size) => o.space.precisions.map((precision) => ({ size, precision })));
  const factorJobs = o.space.convs.flatMap((c, k) => c.options.map((opt, i) => ({ k, i, opt })).filter((j) => j.opt !== null));
  const total = pairs.length + factorJobs.length;
  let done = 0;
  const sizePrecision: Record<string, number> = {};
  const fidelity = await calibrationFidelity(o.base, o.calibration);
  for (const { size, precision } of pairs) {
    const g: Genome = { ...zero, size, precision };
    sizePrecision[sizePrecisionKey(size, precision)] = size === o.space.baseSize && precision === 'fp32' ? 0 : Math.max(0, 1 - (await fidelity(await o.build(g))));
    o.onProgress?.(++done, total);
  }
  const factor = o.space.convs.map((c) => c.options.map(() => 0));
  if (factorJobs.length) {
    const judge = await AgreementJudge.create(o.base, o.calibration, MAX_INPUTS);
    for (const { k, i } of factorJobs) {
      const g: Genome = { ...zero, factor: zero.factor.map((_, j) => (j === k ? i : 0)) };
      factor[k][i] = Math.max(0, (await judge.judge(await o.build(g))).loss);
      o.onProgress?.(++done, total);
    }
  }
  return { sizePrecision, factor };
}

/**
 * The genomes that calibrate the terms against a recovered build: at the base
 * size and precision, the cheaper half of the prune groups (their first cut's
 * term at or below the median) cut at their first measured level, and the
 * cheaper half of the factorizable convs at their first option. Null where the
 * space has nothing to cut of that kind.
 */
export function probeGenomes(space: SearchSpace, terms: ProxyTerms): { prune: Genome | null; factor: Genome | null } {
  const zero = baseGenome(space);
  const cheapHalf = (rows: number[][]): number[] => {
    const firsts = rows.map((r) => (r.length > 1 ? r[1] : Infinity));
    const finite = firsts.filter(Number.isFinite).sort((a, b) => a - b);
    if (finite.length === 0) return rows.map(() => 0);
    const median = finite[Math.floor((finite.length - 1) / 2)];
    return firsts.map((t) => (Number.isFinite(t) && t <= median ? 1 : 0));
  };
  const prune = cheapHalf(terms.prune);
  const factor = cheapHalf(terms.factor);
  return {
    prune: prune.some((i) => i > 0) ? { ...zero, prune } : null,
    factor: factor.some((i) => i > 0) ? { ...zero, factor } : null,
  };
}

export interface RecoveryScale {
  prune: number;
  factor: number;
  /**
   * What each probe predicted (Σ its terms) and measured (1 − fidelity,
   * recovered); heldBack: judged on calibration sources its recovery was not
   * fitted on (the mean over the two halves), else in-sample (one source).
   */
  probes: { kind: 'prune' | 'factor'; predicted: number; measured: number; heldBack: boolean }[];
}

/** The measured over the predicted loss of a probe, kept within [0.01, 10]; 1 when the probe predicts nothing. */
export const scaleOf = (predicted: number, measured: number): number => (predicted > 0 ? Math.min(10, Math.max(0.01, measured / predicted)) : 1);

/**
 * The prune and factor terms are measured unrecovered (a term fitted on the
 * inputs that judge it would flatter itself), but the front is built with
 * recovery: on the fixture YOLOv8n the l1 levels' median first-cut loss was 0.45 per
 * group at its first cut, so any cut summed past dropping from 640 to 512 px
 * (0.27) and the search pruned nothing, while sensitivity-allocated 10% with
 * recovery keeps 0.987 held-out. So one recovered build per kind (the cheap
 * half of its cuts together) scales that kind's terms by measured / predicted.
 * The probe is judged on held-back calibration sources: its recovery is
 * fitted on one half of the source images and judged on the other, both ways.
 * On the fixture its 30 cuts sum to 6.8 unrecovered; judged in-sample they
 * lost 0.46 recovered (scale 0.067), held back 0.585 (0.086): the sample was
 * not the main error. The scale is: recovered loss grows far slower than the
 * sum (measured / predicted 0.55 at the 3 cheapest cuts, 0.15 at 7, held
 * out), so one linear scale taken this deep makes light pruning look cheap.
 */
export async function measureRecoveryScale(o: { base: Model; baseSha256: string; space: SearchSpace; terms: ProxyTerms; calibration: CalibrationSet; buildRecovered: (g: Genome, fitOn: CalibrationSet) => Promise<Model>; cacheDir?: string; onProgress?: Progress }): Promise<RecoveryScale> {
  const probes = probeGenomes(o.space, o.terms);
  const identity = { base: o.baseSha256, probes, terms: [o.terms.prune, o.terms.factor], calibration: calibrationDigest(o.calibration), measure: 'recovery-scale-2-held-back' };
  return cachedJson(o.cacheDir, 'search-scale', identity, async () => {
    // [fit on, judge on]: each half of the sources judged by the recovery fitted on the other, or in-sample with one source
    const halves = sourceHalves(o.calibration);
    const folds: [CalibrationSet, CalibrationSet][] = halves ? [[halves[0], halves[1]], [halves[1], halves[0]]] : [[o.calibration, o.calibration]];
    const judges = await Promise.all(folds.map(([, judgeOn]) => calibrationFidelity(o.base, judgeOn)));
    const scale: RecoveryScale = { prune: 1, factor: 1, probes: [] };
    const kinds = (['prune', 'factor'] as const).filter((k) => probes[k]);
    let done = 0;
    for (const kind of kinds) {
      const g = probes[kind]!;
      const predicted = predictedLoss({ ...o.terms, sizePrecision: { [sizePrecisionKey(g.size, g.precision)]: 0 } }, g);
      let lost = 0;
      for (const [k, [fitOn]] of folds.entries()) {
        lost += Math.max(0, 1 - (await judges[k](await o.buildRecovered(g, fitOn))));
        o.onProgress?.(++done, kinds.length * folds.length);
      }
      const measured = lost / folds.length;
      scale[kind] = scaleOf(predicted, measured);
      scale.probes.push({ kind, predicted, measured, heldBack: halves !== undefined });
    }
    return scale;
  });
}
