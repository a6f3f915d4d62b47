// A truncated SVD split into two balanced factors, A ≈ L·Rᵀ with
// L = U·√S and R = V·√S, so neither conv of a factorization carries all the
// scale (keeps both weight tensors in a similar range for fp16/int8 later).
import { type Matrix } from '../linalg/matrix.js';
import { type Svd } from '../linalg/svd.js';

export interface BalancedFactors {
  /** rows × rank, row-major. */
  left: Float64Array;
  /** cols × rank, row-major. */
  right: Float64Array;
}

/** Rank-`rank` factors; components the SVD dropped as numerically zero become zero columns. */
export function balancedFactors(s: Svd, rank: number): BalancedFactors {
  const keep = Math.min(rank, s.S.length);
  const side = (m: Matrix): Float64Array => {
    const out = new Float64Array(m.rows * rank);
    for (let r = 0; r < m.rows; r++) {
      for (let c = 0; c < keep; c++) out[r * rank + c] = m.data[r * m.cols + c] * Math.sqrt(s.S[c]);
    }
    return out;
  };
  return { left: side(s.U), right: side(s.V) };
}
