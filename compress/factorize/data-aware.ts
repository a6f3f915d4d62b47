// Truncated factorizations of a layer's weight matrix M (rows × cols, the
// columns indexing input-patch features), either plain (Eckart–Young on ‖M‖)
// or data-aware (Zhang et al. 2015): minimize E‖(M − M̂)(x − μ)‖² over the
// layer's actual input patches x instead of ‖M − M̂‖. With the patch
// covariance Σ = L·Lᵀ, that is the SVD of M·L truncated and L undone:
// M̂ = U·S·Vᵀ·L⁻¹. The mean's share of the error, (M − M̂)·μ, is the same at
// every position, so it moves into the bias. Both are exact at full rank.
// Asymmetric (the layer reads x̂ from a model already factorized upstream but
// must reproduce M·x on the original x): the least-squares map of x̂ to M·x is
// A = M·Cov(x,x̂)·Cov(x̂)⁻¹, and the best rank-R map is the SVD of A·L̂ =
// M·Cov(x,x̂)·L̂⁻ᵀ truncated, L̂ undone (reduced-rank regression).
import { backSubstitute, choleskyFactor, forwardSubstitute } from '../linalg/cholesky.js';
import { matmul } from '../linalg/matrix.js';
import { svd } from '../linalg/svd.js';
import { balancedFactors, type BalancedFactors } from './svd-split.js';
import { cumulativeEnergy, energyOf } from './layer.js';
import type { PatchStatistics } from './input-stats.js';

export interface RankFactors extends BalancedFactors {
  /** Per row of M: what to add to the bias so the mean output is kept (data-aware only). */
  biasShift?: Float64Array;
}

export interface MatrixFactorization {
  /** Number of singular values: the rank that reproduces M. */
  full: number;
  /** energy[r-1]: the fraction kept at rank r, of ‖M‖² or, data-aware, of the output variance tr(M·Σ·Mᵀ). */
  energy: Float64Array;
  factors(rank: number): RankFactors;
}

/** Eckart–Young on the weights alone. */
export function weightFactorization(M: Float64Array, rows: number, cols: number): MatrixFactorization {
  const s = svd({ rows, cols, data: M });
  const full = Math.min(rows, cols);
  return { full, energy: cumulativeEnergy(s.S, energyOf(M), full), factors: (rank) => balancedFactors(s, rank) };
}

/**
 * Shrinkage of the covariance toward a multiple of the identity, relative to
 * its mean diagonal: keeps L invertible for dead channels and padding-only
 * features, and keeps directions the four-odd calibration images never
 * excite from being treated as free to destroy.
 */
const SHRINKAGE = 1e-3;

export function dataAwareFactorization(M: Float64Array, rows: number, cols: number, stats: PatchStatistics): MatrixFactorization {
  if (stats.d !== cols) throw new Error(`data-aware factorization: ${cols} weight columns but ${stats.d} patch features`);
  const cov = Float64Array.from(stats.covariance);
  let trace = 0;
  for (let i = 0; i < cols; i++) trace += cov[i * cols + i];
  const ridge = SHRINKAGE * Math.max(trace / cols, 1e-12);
  for (let i = 0; i < cols; i++) cov[i * cols + i] += ridge;
  const L = choleskyFactor({ rows: cols, cols, data: cov });
  let whitening = L;
  if (stats.cross) {
    // (Cov(x,x̂) + ridge·I)·L̂⁻ᵀ = (L̂⁻¹·(Cov(x̂,x) + ridge·I))ᵀ: the same shrinkage on both sides
    // pulls A toward M, and makes x̂ = x the symmetric case exactly
    const t = new Float64Array(cols * cols);
    for (let i = 0; i < cols; i++) for (let j = 0; j < cols; j++) t[j * cols + i] = stats.cross[i * cols + j] + (i === j ? ridge : 0);
    forwardSubstitute(L, t, cols, cols);
    whitening = new Float64Array(cols * cols);
    for (let i = 0; i < cols; i++) for (let j = 0; j < cols; j++) whitening[j * cols + i] = t[i * cols + j];
  }
  const whitened = matmul({ rows, cols, data: M }, { rows: cols, cols, data: whitening }).data;
  const targetMean = stats.originalMean ?? stats.mean;
  const s = svd({ rows, cols, data: whitened });
  const full = Math.min(rows, cols);
  return {
    full,
    energy: cumulativeEnergy(s.S, energyOf(whitened), full),
    factors(rank) {
      const { left, right: whiteRight } = balancedFactors(s, rank);
      // right = L⁻ᵀ·(V·√S): the horizontal factor in the layer's own input space
      const right = Float64Array.from(whiteRight);
      backSubstitute(L, right, cols, rank);
      const projected = new Float64Array(rank); // rightᵀ·μ
      for (let c = 0; c < cols; c++) for (let r = 0; r < rank; r++) projected[r] += right[c * rank + r] * stats.mean[c];
      const biasShift = new Float64Array(rows);
      for (let i = 0; i < rows; i++) {
        let exact = 0;
        for (let c = 0; c < cols; c++) exact += M[i * cols + c] * targetMean[c];
        let approx = 0;
        for (let r = 0; r < rank; r++) approx += left[i * rank + r] * projected[r];
        biasShift[i] = exact - approx;
      }
      return { left, right, biasShift };
    },
  };
}
