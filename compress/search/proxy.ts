// The search's two objectives and its constraint for one genome, from terms
// measured once (terms.ts) and the latency predictor: pure arithmetic. On the
// fixture YOLOv8n's full space (59 groups, 28 convs, 7 sizes, 3 precisions),
// measured over 2000 random genomes at load average 10 on this 2-core
// machine: 902 µs per genome, nearly all of it genomeShapes and the
// predictor's sum over ~250 nodes; the loss sum alone 10 µs. A default search
// (48 × 40 generations, ≤ 1968 genomes) spends about 2 s in it.
//
// Objective 1: predicted latency, ms, for the thread count the predictor was
// fitted at (compress/latency/predict.ts on genomeShapes: the shapes of the
// model buildGenome would build, without building it).
// Objective 2: predicted fidelity loss, the sum of
//   - the size × precision term: the loss of the base resized to the genome's
//     size and converted to its precision, nothing else changed (measured);
//   - per prune group, the loss of the base with that group alone cut by the
//     genome's removal count (the prune sensitivity profile's level);
//   - per factorizable conv, the loss of the base with that conv alone
//     factorized at the genome's option (measured).
// Additive: each term is measured alone and the sum assumes they do not
// interact, the same assumption compress/sensitivity.ts' allocator makes when
// it spends a FLOPs cut over groups. With --reconstruct each kind's sum goes
// through its recovery curve (a·S^b, fitted on recovered probes). It is a
// ranking proxy only; the final front is built and measured on held-out
// images (run.ts), and the table shows predicted beside measured.
// Constraint: the SLO's max latency; violation = predicted ms − bound.
import type { NodeShape } from '../latency/features.js';
import { predictLatency, type LatencyPredictor } from '../latency/predict.js';
import type { Evaluation } from './nsga2.js';
import type { Genome } from './genome.js';
import type { SearchSpace } from './space.js';

/** Measured loss terms, each alone against the base model ((1 − fidelity) + output drift, compress/agreement.ts). */
export interface ProxyTerms {
  /** Keyed by sizePrecisionKey(size, precision). */
  sizePrecision: Record<string, number>;
  /** Per space group, per removal index (index 0 = nothing removed = 0). */
  prune: number[][];
  /** Per space conv, per option index (index 0 = not factorized = 0). */
  factor: number[][];
}

export const sizePrecisionKey = (size: number, precision: string): string => `${size}/${precision}`;

/**
 * What a recovered build loses, as a function of the sum S of its kind's
 * unrecovered terms: a·S^b (terms.ts measureRecoveryScale fits a and b on two
 * recovered probes). b = 1 is one linear scale; b < 1 is concave: the first
 * cuts cost more per unit of S than the many cuts a deep probe holds.
 */
export interface RecoveryCurve {
  a: number;
  b: number;
}

export const IDENTITY_CURVE: RecoveryCurve = { a: 1, b: 1 };

/** One curve per kind of cut; the identity curves leave each sum as it is. */
export interface RecoveryCurves {
  prune: RecoveryCurve;
  factor: RecoveryCurve;
}

export const IDENTITY_CURVES: RecoveryCurves = { prune: IDENTITY_CURVE, factor: IDENTITY_CURVE };

export const recovered = (c: RecoveryCurve, sum: number): number => (sum > 0 ? c.a * sum ** c.b : 0);

/**
 * The predicted fidelity loss of a genome: its size × precision term plus,
 * per kind (prune, factor), the kind's recovery curve at the sum of its
 * measured terms (the sum itself without curves).
 */
export function predictedLoss(terms: ProxyTerms, g: Genome, curves: RecoveryCurves = IDENTITY_CURVES): number {
  const sp = terms.sizePrecision[sizePrecisionKey(g.size, g.precision)];
  if (sp === undefined) throw new Error(`search proxy: no measured term for size ${g.size} at ${g.precision}`);
  let prune = 0;
  let factor = 0;
  g.prune.forEach((i, k) => (prune += terms.prune[k]?.[i] ?? 0));
  g.factor.forEach((i, k) => (factor += terms.factor[k]?.[i] ?? 0));
  return sp + recovered(curves.prune, prune) + recovered(curves.factor, factor);
}

/** The prune terms of a space from the sensitivity profile: each group's removal index → the loss measured at that removal count. */
export function pruneTerms(space: SearchSpace, levels: ReadonlyArray<ReadonlyArray<{ removed: number; loss: number }>>): number[][] {
  return space.groups.map((grp, k) =>
    grp.removals.map((removed) => {
      if (removed === 0) return 0;
      const level = levels[k]?.find((l) => l.removed === removed);
      if (!level) throw new Error(`search proxy: group ${grp.name} allows removing ${removed} units, which its sensitivity profile never measured`);
      return Math.max(0, level.loss);
    }),
  );
}

export interface Proxy {
  latencyMs(g: Genome): number;
  loss(g: Genome): number;
  evaluate(g: Genome): Evaluation;
}

export function searchProxy(o: { predictor: LatencyPredictor; shapes: (g: Genome) => NodeShape[]; terms: ProxyTerms; curves?: RecoveryCurves; maxLatencyMs?: number }): Proxy {
  const latencyMs = (g: Genome) => predictLatency(o.predictor, o.shapes(g)).ms;
  const loss = (g: Genome) => predictedLoss(o.terms, g, o.curves);
  return {
    latencyMs,
    loss,
    evaluate(g) {
      const ms = latencyMs(g);
      const violation = o.maxLatencyMs === undefined ? 0 : Math.max(0, ms - o.maxLatencyMs);
      return { objectives: [ms, loss(g)], violation };
    },
  };
}
