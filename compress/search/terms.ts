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
import { calibrationDigest, crossHalves, type CalibrationSet } from '../calibration.js';
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
import { IDENTITY_CURVES, predictedLoss, pruneTerms, sizePrecisionKey, type ProxyTerms, type RecoveryCurve, type RecoveryCurves } from './proxy.js';
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
  const identity = { base: o.baseSha256, sizes: o.space.sizes, precisions: o.space.precisions, convs: o.space.convs, calibration: calibrationDigest(o.calibration), measure: 'search-terms-3-split-upsample-convs' };
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

/** The shallow probe's cuts per kind: the cheapest first cuts, where light pruning lives. */
export const SHALLOW_CUTS = 3;

/**
 * The genomes that calibrate the terms against a recovered build, at the base
 * size and precision, two per kind: deep, the cheaper half of the prune
 * groups (their first cut's term at or below the median) cut at their first
 * measured level, and the cheaper half of the factorizable convs at their
 * first option; shallow, the SHALLOW_CUTS cheapest of those alone. Null where
 * the space has nothing to cut of that kind; shallow null where the cheap
 * half holds no more than SHALLOW_CUTS (the two would be one).
 */
export function probeGenomes(space: SearchSpace, terms: ProxyTerms): Record<'prune' | 'factor', { deep: Genome; shallow: Genome | null } | null> {
  const zero = baseGenome(space);
  const firstCuts = (rows: number[][]) => rows.map((r) => (r.length > 1 ? r[1] : Infinity));
  const cheapHalf = (rows: number[][]): number[] => {
    const firsts = firstCuts(rows);
    const finite = firsts.filter(Number.isFinite).sort((a, b) => a - b);
    if (finite.length === 0) return rows.map(() => 0);
    const median = finite[Math.floor((finite.length - 1) / 2)];
    return firsts.map((t) => (Number.isFinite(t) && t <= median ? 1 : 0));
  };
  const cheapest = (rows: number[][], n: number): number[] => {
    const order = firstCuts(rows).map((t, k) => ({ t, k })).filter((x) => Number.isFinite(x.t)).sort((x, y) => x.t - y.t || x.k - y.k);
    const picked = new Set(order.slice(0, n).map((x) => x.k));
    return rows.map((_, k) => (picked.has(k) ? 1 : 0));
  };
  const probe = (rows: number[][], genome: (cuts: number[]) => Genome) => {
    const deep = cheapHalf(rows);
    const cuts = deep.filter((i) => i > 0).length;
    if (cuts === 0) return null;
    return { deep: genome(deep), shallow: cuts > SHALLOW_CUTS ? genome(cheapest(rows, SHALLOW_CUTS)) : null };
  };
  return {
    prune: probe(terms.prune, (prune) => ({ ...zero, prune })),
    factor: probe(terms.factor, (factor) => ({ ...zero, factor })),
  };
}

export interface RecoveryScale extends RecoveryCurves {
  /**
   * What each probe predicted (Σ its terms) and measured (1 − fidelity,
   * recovered); heldBack: judged on calibration sources its recovery was not
   * fitted on (the mean over the two halves), else in-sample (one source).
   */
  probes: { kind: 'prune' | 'factor'; depth: 'shallow' | 'deep'; predicted: number; measured: number; heldBack: boolean }[];
}

/** The measured over the predicted loss of a probe, kept within [0.01, 10]; 1 when the probe predicts nothing. */
export const scaleOf = (predicted: number, measured: number): number => (predicted > 0 ? Math.min(10, Math.max(0.01, measured / predicted)) : 1);

/** The exponent of a fitted curve stays within [MIN_EXPONENT, 1]: concave or linear, never growing faster than the sum. */
export const MIN_EXPONENT = 0.2;

/**
 * a·S^b through the probes of one kind: with a shallow and a deep probe that
 * both measured a loss, b = ln(m_deep / m_shallow) / ln(p_deep / p_shallow)
 * (kept within [MIN_EXPONENT, 1]) and a puts the curve through the deep
 * probe; with one usable probe, the line through the origin and it (b = 1,
 * a = scaleOf).
 */
export function fitRecoveryCurve(deep: { predicted: number; measured: number }, shallow?: { predicted: number; measured: number }): RecoveryCurve {
  const usable = shallow && shallow.predicted > 0 && shallow.measured > 0 && deep.measured > 0 && deep.predicted > shallow.predicted;
  if (!usable) return { a: scaleOf(deep.predicted, deep.measured), b: 1 };
  const b = Math.min(1, Math.max(MIN_EXPONENT, Math.log(deep.measured / shallow.measured) / Math.log(deep.predicted / shallow.predicted)));
  return { a: deep.measured / deep.predicted ** b, b };
}

/**
 * The prune and factor terms are measured unrecovered (a term fitted on the
 * inputs that judge it would flatter itself), but the front is built with
 * recovery: on the fixture YOLOv8n the l1 levels' median first-cut loss was 0.45 per
 * group at its first cut, so any cut summed past dropping from 640 to 512 px
 * (0.27) and the search pruned nothing, while sensitivity-allocated 10% with
 * recovery keeps 0.987 held-out. So recovered builds of each kind map the sum
 * of its terms to a recovered loss. They are judged on held-back calibration
 * sources: the recovery is fitted on one half of the source images and judged
 * on the other, both ways. One deep probe alone (the cheap half: 30 cuts that
 * sum to 6.8 unrecovered and lost 0.585 recovered) gave a linear scale of
 * 0.086, but recovered loss grows far slower than the sum (measured /
 * predicted 0.55 at the 3 cheapest cuts, 0.15 at 7, held out), so light pruning
 * looked nearly free; a shallow probe (the SHALLOW_CUTS cheapest) fits the
 * exponent of a concave curve through both.
 */
export async function measureRecoveryScale(o: { base: Model; baseSha256: string; space: SearchSpace; terms: ProxyTerms; calibration: CalibrationSet; buildRecovered: (g: Genome, fitOn: CalibrationSet) => Promise<Model>; cacheDir?: string; onProgress?: Progress }): Promise<RecoveryScale> {
  const probes = probeGenomes(o.space, o.terms);
  const identity = { base: o.baseSha256, probes, terms: [o.terms.prune, o.terms.factor], calibration: calibrationDigest(o.calibration), measure: 'recovery-curve-4-substitution-guard' };
  return cachedJson(o.cacheDir, 'search-scale', identity, async () => {
    // [fit on, judge on]: each half of the sources judged by the recovery fitted on the other, or in-sample with one source
    const halves = crossHalves(o.calibration);
    const folds = halves ?? [[o.calibration, o.calibration]];
    const judges = await Promise.all(folds.map(([, judgeOn]) => calibrationFidelity(o.base, judgeOn)));
    const scale: RecoveryScale = { ...IDENTITY_CURVES, probes: [] };
    const jobs = (['prune', 'factor'] as const).flatMap((kind) => {
      const p = probes[kind];
      if (!p) return [];
      return [{ kind, depth: 'deep' as const, g: p.deep }, ...(p.shallow ? [{ kind, depth: 'shallow' as const, g: p.shallow }] : [])];
    });
    let done = 0;
    for (const { kind, depth, g } of jobs) {
      const predicted = predictedLoss({ ...o.terms, sizePrecision: { [sizePrecisionKey(g.size, g.precision)]: 0 } }, g);
      let lost = 0;
      for (const [k, [fitOn]] of folds.entries()) {
        lost += Math.max(0, 1 - (await judges[k](await o.buildRecovered(g, fitOn))));
        o.onProgress?.(++done, jobs.length * folds.length);
      }
      scale.probes.push({ kind, depth, predicted, measured: lost / folds.length, heldBack: halves !== undefined });
    }
    for (const kind of ['prune', 'factor'] as const) {
      const deep = scale.probes.find((p) => p.kind === kind && p.depth === 'deep');
      if (deep) scale[kind] = fitRecoveryCurve(deep, scale.probes.find((p) => p.kind === kind && p.depth === 'shallow'));
    }
    return scale;
  });
}
