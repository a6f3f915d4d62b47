import { type Matrix, zeros } from './matrix.js';

/**
 * Solves A·X = B for symmetric positive-definite A (n×n) and B (n×m) by
 * Cholesky factorization. Throws when A is not positive definite, which for a
 * ridge system means the regularization is too small for the data.
 */
export function choleskySolve(a: Matrix, b: Matrix): Matrix {
  const n = a.rows;
  if (a.cols !== n || b.rows !== n) throw new Error(`choleskySolve: A is ${a.rows}×${a.cols}, B is ${b.rows}×${b.cols}`);
  const L = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    let d = a.data[j * n + j];
    for (let k = 0; k < j; k++) d -= L[j * n + k] * L[j * n + k];
    if (!(d > 0)) throw new Error(`choleskySolve: matrix is not positive definite (pivot ${j} = ${d})`);
    const ljj = Math.sqrt(d);
    L[j * n + j] = ljj;
    for (let i = j + 1; i < n; i++) {
      let s = a.data[i * n + j];
      for (let k = 0; k < j; k++) s -= L[i * n + k] * L[j * n + k];
      L[i * n + j] = s / ljj;
    }
  }
  const m = b.cols;
  const x = zeros(n, m);
  const X = x.data;
  X.set(b.data);
  // forward: L·Y = B
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < i; k++) {
      const l = L[i * n + k];
      if (l === 0) continue;
      for (let c = 0; c < m; c++) X[i * m + c] -= l * X[k * m + c];
    }
    const lii = L[i * n + i];
    for (let c = 0; c < m; c++) X[i * m + c] /= lii;
  }
  // backward: Lᵀ·X = Y
  for (let i = n - 1; i >= 0; i--) {
    for (let k = i + 1; k < n; k++) {
      const l = L[k * n + i];
      if (l === 0) continue;
      for (let c = 0; c < m; c++) X[i * m + c] -= l * X[k * m + c];
    }
    const lii = L[i * n + i];
    for (let c = 0; c < m; c++) X[i * m + c] /= lii;
  }
  return x;
}
