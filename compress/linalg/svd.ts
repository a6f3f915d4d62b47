import { symmetricEigen } from './eigen.js';
import { type Matrix, matmul, matmulTN, transpose, zeros } from './matrix.js';

export interface Svd {
  /** rows×k, orthonormal columns. */
  U: Matrix;
  /** k singular values, descending. */
  S: Float64Array;
  /** cols×k, orthonormal columns. */
  V: Matrix;
}

/**
 * Thin SVD through the eigendecomposition of the smaller Gram matrix. Squaring
 * the condition number costs precision only in the smallest singular values,
 * which truncation drops anyway; components with σ below 1e-10·σ₁ are cut.
 */
export function svd(a: Matrix): Svd {
  const wide = a.rows <= a.cols;
  const gram = wide ? matmulTN(transpose(a), transpose(a)) : matmulTN(a, a);
  const { values, vectors } = symmetricEigen(gram);
  const n = gram.rows;
  const top = Math.sqrt(Math.max(values[0] ?? 0, 0));
  let k = 0;
  while (k < n && Math.sqrt(Math.max(values[k], 0)) > 1e-10 * top) k++;
  const S = Float64Array.from(values.subarray(0, k), (v) => Math.sqrt(v));
  const basis = zeros(n, k);
  for (let r = 0; r < n; r++) for (let c = 0; c < k; c++) basis.data[r * k + c] = vectors.data[r * n + c];
  // The other side: A·v/σ (or Aᵀ·u/σ).
  const other = wide ? matmul(transpose(a), basis) : matmul(a, basis);
  for (let r = 0; r < other.rows; r++) for (let c = 0; c < k; c++) other.data[r * k + c] /= S[c];
  return wide ? { U: basis, S, V: other } : { U: other, S, V: basis };
}

/** The rank-k truncation of an SVD. */
export function truncate(s: Svd, k: number): Svd {
  const keep = Math.min(k, s.S.length);
  const cut = (m: Matrix): Matrix => {
    const out = zeros(m.rows, keep);
    for (let r = 0; r < m.rows; r++) for (let c = 0; c < keep; c++) out.data[r * keep + c] = m.data[r * m.cols + c];
    return out;
  };
  return { U: cut(s.U), S: s.S.slice(0, keep), V: cut(s.V) };
}
