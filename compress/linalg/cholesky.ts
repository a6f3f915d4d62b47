import { type Matrix, zeros } from './matrix.js';

/**
 * The lower Cholesky factor L of a symmetric positive-definite A (n×n,
 * row-major, only the lower triangle read): A = L·Lᵀ. Throws when A is not
 * positive definite, which for a ridge system means the regularization is too
 * small for the data. Column j of L takes dot products of rows of L, four
 * rows at a time so each load of row j serves four products.
 */
export function choleskyFactor(a: Matrix): Float64Array {
  const n = a.rows;
  if (a.cols !== n) throw new Error(`cholesky: A is ${a.rows}×${a.cols}`);
  const A = a.data;
  const L = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    const lj = j * n;
    let d = A[lj + j];
    for (let k = 0; k < j; k++) d -= L[lj + k] * L[lj + k];
    if (!(d > 0)) throw new Error(`choleskySolve: matrix is not positive definite (pivot ${j} = ${d})`);
    const ljj = Math.sqrt(d);
    L[lj + j] = ljj;
    let i = j + 1;
    for (; i + 3 < n; i += 4) {
      const l0 = i * n, l1 = l0 + n, l2 = l1 + n, l3 = l2 + n;
      let s0 = A[l0 + j], s1 = A[l1 + j], s2 = A[l2 + j], s3 = A[l3 + j];
      for (let k = 0; k < j; k++) {
        const v = L[lj + k];
        s0 -= L[l0 + k] * v;
        s1 -= L[l1 + k] * v;
        s2 -= L[l2 + k] * v;
        s3 -= L[l3 + k] * v;
      }
      L[l0 + j] = s0 / ljj;
      L[l1 + j] = s1 / ljj;
      L[l2 + j] = s2 / ljj;
      L[l3 + j] = s3 / ljj;
    }
    for (; i < n; i++) {
      const li = i * n;
      let s = A[li + j];
      for (let k = 0; k < j; k++) s -= L[li + k] * L[lj + k];
      L[li + j] = s / ljj;
    }
  }
  return L;
}

/** Solves L·Y = B in place (L lower triangular n×n, B n×m row-major). */
export function forwardSubstitute(L: Float64Array, X: Float64Array, n: number, m: number): void {
  for (let i = 0; i < n; i++) {
    const li = i * n;
    const xi = i * m;
    let k = 0;
    for (; k + 3 < i; k += 4) {
      const a0 = L[li + k], a1 = L[li + k + 1], a2 = L[li + k + 2], a3 = L[li + k + 3];
      const x0 = k * m, x1 = x0 + m, x2 = x1 + m, x3 = x2 + m;
      for (let c = 0; c < m; c++) X[xi + c] -= a0 * X[x0 + c] + a1 * X[x1 + c] + a2 * X[x2 + c] + a3 * X[x3 + c];
    }
    for (; k < i; k++) {
      const l = L[li + k];
      const xk = k * m;
      for (let c = 0; c < m; c++) X[xi + c] -= l * X[xk + c];
    }
    const inv = 1 / L[li + i];
    for (let c = 0; c < m; c++) X[xi + c] *= inv;
  }
}

/** Solves Lᵀ·X = Y in place (L lower triangular n×n, Y n×m row-major). */
export function backSubstitute(L: Float64Array, X: Float64Array, n: number, m: number): void {
  for (let i = n - 1; i >= 0; i--) {
    const xi = i * m;
    let k = i + 1;
    for (; k + 3 < n; k += 4) {
      const a0 = L[k * n + i], a1 = L[(k + 1) * n + i], a2 = L[(k + 2) * n + i], a3 = L[(k + 3) * n + i];
      const x0 = k * m, x1 = x0 + m, x2 = x1 + m, x3 = x2 + m;
      for (let c = 0; c < m; c++) X[xi + c] -= a0 * X[x0 + c] + a1 * X[x1 + c] + a2 * X[x2 + c] + a3 * X[x3 + c];
    }
    for (; k < n; k++) {
      const l = L[k * n + i];
      const xk = k * m;
      for (let c = 0; c < m; c++) X[xi + c] -= l * X[xk + c];
    }
    const inv = 1 / L[i * n + i];
    for (let c = 0; c < m; c++) X[xi + c] *= inv;
  }
}

/**
 * Solves A·X = B for symmetric positive-definite A (n×n) and B (n×m) by
 * Cholesky factorization. Throws when A is not positive definite.
 */
export function choleskySolve(a: Matrix, b: Matrix): Matrix {
  const n = a.rows;
  if (a.cols !== n || b.rows !== n) throw new Error(`choleskySolve: A is ${a.rows}×${a.cols}, B is ${b.rows}×${b.cols}`);
  const L = choleskyFactor(a);
  const x = zeros(n, b.cols);
  x.data.set(b.data);
  forwardSubstitute(L, x.data, n, b.cols);
  backSubstitute(L, x.data, n, b.cols);
  return x;
}
