// Activation ranges from calibration statistics: min/max, percentile and
// entropy (TensorRT-style KL-divergence threshold search on a histogram of
// |x|), and the uint8 scale/zero point a range maps to. Pure maths.

export type CalibrationMethod = 'minmax' | 'percentile' | 'entropy';
export const CALIBRATION_METHODS = ['minmax', 'percentile', 'entropy'] as const;

/** Bins of the |x| histogram; TensorRT's entropy calibrator uses 2048. */
export const HISTOGRAM_BINS = 2048;
/**
 * Levels the entropy search squeezes |x| into: TensorRT's 128 is one side of
 * int8. A uint8 activation spends all 256 codes on [min, max], which for the
 * one-sided SiLU outputs is nearly all on the positive side, so it searches
 * with 255: with 128 the thresholds clip YOLOv8n's SiLU outputs to a quarter
 * of their range and fidelity falls to 0.58 (0.82 with 255).
 */
export const ENTROPY_LEVELS = { int8: 128, uint8: 255 } as const;
const THRESHOLD_STEP = 4;
/** ORT's percentile calibrator default. */
export const DEFAULT_PERCENTILE = 99.999;

export interface Range {
  min: number;
  max: number;
}

/** Running statistics of one tensor over calibration images: extremes first, then a histogram of |x| up to their absolute maximum. */
export class TensorStats {
  min = Infinity;
  max = -Infinity;
  readonly histogram = new Float64Array(HISTOGRAM_BINS);

  observeRange(data: Float32Array): void {
    let lo = this.min, hi = this.max;
    for (let i = 0; i < data.length; i++) {
      const v = data[i];
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    this.min = lo;
    this.max = hi;
  }

  get absMax(): number {
    return Math.max(Math.abs(this.min), Math.abs(this.max));
  }

  /** Needs observeRange over every image first, so the bins cover all values. */
  observeHistogram(data: Float32Array): void {
    const top = this.absMax;
    if (!(top > 0)) return;
    const perBin = HISTOGRAM_BINS / top;
    const h = this.histogram;
    for (let i = 0; i < data.length; i++) {
      const b = Math.floor(Math.abs(data[i]) * perBin);
      h[b < HISTOGRAM_BINS ? b : HISTOGRAM_BINS - 1]++;
    }
  }
}

/** The clipping threshold on |x| that keeps `percentile` % of the observed values. */
export function percentileThreshold(histogram: Float64Array, absMax: number, percentile = DEFAULT_PERCENTILE): number {
  const total = histogram.reduce((s, c) => s + c, 0);
  if (total === 0) return absMax;
  const want = (total * percentile) / 100;
  let seen = 0;
  for (let i = 0; i < histogram.length; i++) {
    seen += histogram[i];
    if (seen >= want) return ((i + 1) * absMax) / histogram.length;
  }
  return absMax;
}

/**
 * TensorRT's entropy calibration: for each candidate threshold bin i, the
 * reference distribution P is the histogram up to i with the clipped tail
 * folded into its last bin; Q is P squeezed into `levels` levels and expanded back
 * over P's non-empty bins. The threshold with the smallest KL(P‖Q) wins.
 */
export function entropyThreshold(histogram: Float64Array, absMax: number, levels: number = ENTROPY_LEVELS.int8): number {
  const bins = histogram.length;
  if (histogram.every((c) => c === 0)) return absMax;
  let best = bins;
  let bestKl = Infinity;
  const p = new Float64Array(bins);
  const q = new Float64Array(bins);
  // Candidates every 4 bins (512 of them) rather than TensorRT's every bin: a
  // quarter of the search time per tensor, thresholds within 0.2 % of range.
  for (let i = levels; i <= bins; i += THRESHOLD_STEP) {
    for (let j = 0; j < i; j++) p[j] = histogram[j];
    let clipped = 0;
    for (let j = i; j < bins; j++) clipped += histogram[j];
    p[i - 1] += clipped;
    // Levels merge whole bins of the unclipped slice; the remainder joins the last level.
    const merged = Math.floor(i / levels);
    q.fill(0, 0, i);
    for (let level = 0; level < levels; level++) {
      const start = level * merged;
      const end = level === levels - 1 ? i : start + merged;
      let sum = 0, nonzero = 0;
      for (let j = start; j < end; j++) {
        sum += histogram[j];
        if (p[j] !== 0) nonzero++;
      }
      if (nonzero === 0) continue;
      const each = sum / nonzero;
      for (let j = start; j < end; j++) if (p[j] !== 0) q[j] = each;
    }
    const kl = klDivergence(p, q, i);
    if (kl < bestKl) {
      bestKl = kl;
      best = i;
    }
  }
  return ((best + 0.5) * absMax) / bins;
}

function klDivergence(p: Float64Array, q: Float64Array, n: number): number {
  let ps = 0, qs = 0;
  for (let j = 0; j < n; j++) {
    ps += p[j];
    qs += q[j];
  }
  if (ps === 0 || qs === 0) return Infinity;
  let kl = 0;
  for (let j = 0; j < n; j++) {
    if (p[j] === 0) continue;
    const pj = p[j] / ps;
    // A bin P has but Q lost (all-zero level) costs as if Q had a tiny mass there.
    const qj = q[j] > 0 ? q[j] / qs : 1e-12;
    kl += pj * Math.log(pj / qj);
  }
  return kl;
}

/**
 * The range a tensor is quantized over. Min/max keeps the extremes; the other
 * methods clip both sides at a threshold on |x|, so the one-sided tensors
 * after SiLU keep their narrow negative side exactly.
 */
export function activationRange(stats: TensorStats, method: CalibrationMethod, entropyLevels: number = ENTROPY_LEVELS.uint8): Range {
  if (!Number.isFinite(stats.min) || !Number.isFinite(stats.max)) {
    throw new RangeError('no calibration values were observed for this tensor');
  }
  if (method === 'minmax') return { min: stats.min, max: stats.max };
  const t = method === 'percentile' ? percentileThreshold(stats.histogram, stats.absMax) : entropyThreshold(stats.histogram, stats.absMax, entropyLevels);
  return { min: Math.max(stats.min, -t), max: Math.min(stats.max, t) };
}

export interface QuantParams {
  scale: number;
  zeroPoint: number;
}

/** uint8 affine parameters for a range, widened to include 0 so zero padding is exact. */
export function uint8Params(range: Range): QuantParams {
  const lo = Math.min(0, range.min);
  const hi = Math.max(0, range.max);
  if (hi - lo <= 0) return { scale: 1, zeroPoint: 0 };
  const scale = (hi - lo) / 255;
  const zeroPoint = Math.min(255, Math.max(0, Math.round(-lo / scale)));
  return { scale, zeroPoint };
}

/** int8 symmetric parameters (zero point 0), for activations quantized as int8. */
export function int8Params(range: Range): QuantParams {
  const m = Math.max(Math.abs(range.min), Math.abs(range.max));
  return { scale: m > 0 ? m / 127 : 1, zeroPoint: 0 };
}

/** The logistic function, as onnxruntime's Sigmoid computes it. */
export function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

/** The inverse of sigmoid. */
export function logit(p: number): number {
  return Math.log(p / (1 - p));
}

/**
 * The lowest class score any consumer of the detector asks for: ultralytics
 * val's conf 0.001 (compress/detect/evaluate.ts MAP_DEFAULTS, the fidelity
 * candidate's floor). Class logits are quantized over
 * [logit(floor / 2), logit(1 - floor / 2)] = ±7.6: a score below the floor is
 * never a detection, so its logit may clip; the half keeps the clipped code
 * (which dequantizes within half a step of the bound) under the floor.
 * Calibrating these logits instead measured, on coco8 train at 640, stride 8's
 * largest logit at 0.00 (no confident small object in 4 images): every
 * held-out stride-8 score capped at 0.5, and the views fidelity fell 0.017.
 */
export const CLASS_SCORE_FLOOR = 0.001;
export const CLASS_LOGIT_RANGE: Range = { min: logit(CLASS_SCORE_FLOOR / 2), max: logit(1 - CLASS_SCORE_FLOOR / 2) };

/**
 * Where a tensor's range comes from. Only 'calibrated' tensors are run on the
 * calibration images; the others follow from the definition of their producer.
 */
export type RangeSource =
  | { kind: 'calibrated' }
  /** Split, MaxPool, Resize: onnxruntime drops their Q/DQ only when output and input parameters are equal. */
  | { kind: 'same-as'; tensor: string }
  /** Sigmoid of a tensor quantized over [lo, hi] lies in [σ(lo), σ(hi)]. */
  | { kind: 'sigmoid-of'; tensor: string }
  /** Concat's values are its inputs' values: the hull of their ranges clips nothing. */
  | { kind: 'hull-of'; tensors: string[] }
  /** Known from what reads or writes the tensor, not measured: a softmax's [0, 1], class logits' useful span. */
  | { kind: 'fixed'; range: Range };

/**
 * Every activation's range, in `order` (sources before the tensors derived
 * from them): calibrated ones as measured, the others from their definition.
 * The Sigmoid of a value quantized over [lo, hi] is dequantized within
 * [lo, hi], so its output lies in [σ(lo), σ(hi)]; a Concat's output holds
 * exactly its inputs' values, so the hull of their ranges; Split, MaxPool and
 * Resize copy values, so their input's range.
 */
export function resolveRanges(order: readonly string[], sources: ReadonlyMap<string, RangeSource>, calibrated: ReadonlyMap<string, Range>): Map<string, Range> {
  const ranges = new Map<string, Range>();
  const get = (name: string, of: string): Range => {
    const r = ranges.get(name);
    if (!r) throw new Error(`the range of '${of}' follows from '${name}', which has none yet`);
    return r;
  };
  for (const name of order) {
    const source = sources.get(name) ?? { kind: 'calibrated' };
    switch (source.kind) {
      case 'calibrated': {
        const r = calibrated.get(name);
        if (!r) throw new Error(`no calibration range for '${name}'`);
        ranges.set(name, r);
        break;
      }
      case 'same-as':
        ranges.set(name, { ...get(source.tensor, name) });
        break;
      case 'sigmoid-of': {
        const r = get(source.tensor, name);
        ranges.set(name, { min: sigmoid(r.min), max: sigmoid(r.max) });
        break;
      }
      case 'fixed':
        ranges.set(name, { ...source.range });
        break;
      case 'hull-of': {
        const rs = source.tensors.map((t) => get(t, name));
        ranges.set(name, { min: Math.min(...rs.map((r) => r.min)), max: Math.max(...rs.map((r) => r.max)) });
        break;
      }
    }
  }
  return ranges;
}
