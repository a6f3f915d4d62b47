import { type Matrix, zeros } from './matrix.js';

/**
 * The lower Cholesky factor L of a symmetric positive-definite A (n×n,
 * row-major, only the lower triangle read): A = L·Lᵀ. Throws when A is not
 * positive definite, which for a ridge system means the regularization is too
 * small for the data. Columns j and j+1 of L are computed together from dot
 * products of rows of L, four rows at a time: six loads feed eight products.
 */
export function choleskyFactor(a: Matrix): Float64Array {
  const n = a.rows;
  if (a.cols !== n) throw new Error(`cholesky: A is ${a.rows}×${a.cols}`);
  const A = a.data;
  const L = new Float64Array(n * n);
  const pivot = (j: number, d: number): number => {
    if (!(d > 0)) throw new Error(`choleskySolve: matrix is not positive definite (pivot ${j} = ${d})`);
    return Math.sqrt(d);
  };
  let j = 0;
  for (; j + 1 < n; j += 2) {
    const lj = j * n, lk = lj + n; // rows j and j+1
    let d0 = A[lj + j], off = A[lk + j];
    for (let k = 0; k < j; k++) {
      d0 -= L[lj + k] * L[lj + k];
      off -= L[lk + k] * L[lj + k];
    }
    const l00 = pivot(j, d0);
    L[lj + j] = l00;
    const l10 = off / l00;
    L[lk + j] = l10;
    let d1 = A[lk + j + 1];
    for (let k = 0; k <= j; k++) d1 -= L[lk + k] * L[lk + k];
    const l11 = pivot(j + 1, d1);
    L[lk + j + 1] = l11;
    let i = j + 2;
    for (; i + 3 < n; i += 4) {
      const r0 = i * n, r1 = r0 + n, r2 = r1 + n, r3 = r2 + n;
      let s00 = A[r0 + j], s10 = A[r1 + j], s20 = A[r2 + j], s30 = A[r3 + j];
      let s01 = A[r0 + j + 1], s11 = A[r1 + j + 1], s21 = A[r2 + j + 1], s31 = A[r3 + j + 1];
      for (let k = 0; k < j; k++) {
        const u = L[lj + k], v = L[lk + k];
        const x0 = L[r0 + k], x1 = L[r1 + k], x2 = L[r2 + k], x3 = L[r3 + k];
        s00 -= x0 * u;
        s10 -= x1 * u;
        s20 -= x2 * u;
        s30 -= x3 * u;
        s01 -= x0 * v;
        s11 -= x1 * v;
        s21 -= x2 * v;
        s31 -= x3 * v;
      }
      const c0 = s00 / l00, c1 = s10 / l00, c2 = s20 / l00, c3 = s30 / l00;
      L[r0 + j] = c0;
      L[r1 + j] = c1;
      L[r2 + j] = c2;
      L[r3 + j] = c3;
      L[r0 + j + 1] = (s01 - c0 * l10) / l11;
      L[r1 + j + 1] = (s11 - c1 * l10) / l11;
      L[r2 + j + 1] = (s21 - c2 * l10) / l11;
      L[r3 + j + 1] = (s31 - c3 * l10) / l11;
    }
    for (; i < n; i++) {
      const r = i * n;
      let s0 = A[r + j], s1 = A[r + j + 1];
      for (let k = 0; k < j; k++) {
        s0 -= L[r + k] * L[lj + k];
        s1 -= L[r + k] * L[lk + k];
      }
      const c = s0 / l00;
      L[r + j] = c;
      L[r + j + 1] = (s1 - c * l10) / l11;
    }
  }
  if (j < n) {
    // the last column when n is odd: only its diagonal is left
    const lj = j * n;
    let d = A[lj + j];
    for (let k = 0; k < j; k++) d -= L[lj + k] * L[lj + k];
    L[lj + j] = pivot(j, d);
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
