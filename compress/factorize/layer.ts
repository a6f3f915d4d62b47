// The shared vocabulary of conv factorization: the conv being replaced (a
// target), the convs that replace it, and the rank options a method offers
// for one layer (FLOPs and retained energy at each rank).

export const FACTOR_METHODS = ['spatial', 'dws', 'lowrank', 'grouped'] as const;
export type FactorMethod = (typeof FACTOR_METHODS)[number];

/** A k×k Conv (k > 1, group 1) with constant weights and known shapes. */
export interface ConvTarget {
  /** The Conv node's name (unique in the models edgefit handles; used for reporting). */
  name: string;
  /** The value the conv reads. */
  input: string;
  /** [cout, cin, k, k], row-major. */
  weight: Float32Array;
  bias?: Float32Array;
  cout: number;
  cin: number;
  k: number;
  strides: [number, number];
  /** [top, left, bottom, right], ONNX order for 2-D. */
  pads: [number, number, number, number];
  dilations: [number, number];
  /** Input and output spatial sizes [H, W]. */
  inHW: [number, number];
  outHW: [number, number];
  /** 2 × MACs, the cost model's convention. */
  flops: number;
}

/** One conv of a factorization, in ONNX terms. */
export interface ConvSpec {
  /** [cout, cin/group, kh, kw]. */
  dims: [number, number, number, number];
  weight: Float32Array;
  bias?: Float32Array;
  strides: [number, number];
  pads: [number, number, number, number];
  dilations: [number, number];
  group: number;
}

/**
 * What replaces a target: convs applied in order, optionally between two
 * channel Gathers (grouped convs permute channels; the Gathers undo that so
 * the rest of the graph sees the original channel order).
 */
export interface Factorization {
  convs: ConvSpec[];
  /** Input channel order fed to the first conv (Gather on axis 1), absent = identity. */
  inputOrder?: number[];
  /** out[c] = conv_out[outputOrder[c]] (Gather on axis 1), absent = identity. */
  outputOrder?: number[];
}

/**
 * One rank of one layer: what it costs and how much energy it keeps: of the
 * weights (‖W‖²), or for a data-aware factorization of the output variance
 * on calibration inputs.
 */
export interface RankOption {
  /** Method-specific: R for spatial/lowrank, per-channel r for dws, G for grouped. */
  rank: number;
  flops: number;
  /** Fraction kept, in [0, 1]. */
  energy: number;
}

export interface LayerFactorizer {
  target: ConvTarget;
  method: FactorMethod;
  /** Ranks the method can build, each cheaper than the original conv. */
  options: RankOption[];
  /** The rank at which build() reproduces the conv exactly (not necessarily among `options`: it may cost more). */
  exactRank: number;
  /** Whether ranks are channel counts that benefit from rounding to multiples of 8. */
  channelRank: boolean;
  build(rank: number): Factorization;
}

/** Output length of a conv window along one axis. */
export function convOut(size: number, k: number, stride: number, padBefore: number, padAfter: number, dilation = 1): number {
  return Math.floor((size + padBefore + padAfter - dilation * (k - 1) - 1) / stride) + 1;
}

/** FLOPs (2 × MACs) of a conv producing `outHW` with `cout` channels from `cinPerGroup` channels and a kh×kw kernel. */
export function convFlops(outHW: readonly [number, number], cout: number, cinPerGroup: number, kh: number, kw: number): number {
  return 2 * outHW[0] * outHW[1] * cout * cinPerGroup * kh * kw;
}

/** Σ x², in float64. */
export function energyOf(w: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < w.length; i++) s += w[i] * w[i];
  return s;
}

/** Cumulative retained-energy fractions of a spectrum: out[r-1] = Σ_{j<r} σ_j² / total. */
export function cumulativeEnergy(sigma: ArrayLike<number>, total: number, length = sigma.length): Float64Array {
  const out = new Float64Array(length);
  let s = 0;
  for (let r = 0; r < length; r++) {
    if (r < sigma.length) s += sigma[r] * sigma[r];
    out[r] = total > 0 ? Math.min(1, s / total) : 1;
  }
  return out;
}
