import { describe, expect, it } from 'vitest';
import { choleskySolve } from '../../../compress/linalg/cholesky.js';
import { symmetricEigen } from '../../../compress/linalg/eigen.js';
import { type Matrix, frobenius, fromRows, matmul, matmulTN, transpose, zeros } from '../../../compress/linalg/matrix.js';
import { RidgeStats } from '../../../compress/linalg/ridge.js';
import { svd, truncate } from '../../../compress/linalg/svd.js';

function random(rows: number, cols: number, seed: number): Matrix {
  let s = seed >>> 0;
  const m = zeros(rows, cols);
  for (let i = 0; i < m.data.length; i++) {
    s = (s * 1664525 + 1013904223) >>> 0;
    m.data[i] = s / 2 ** 32 - 0.5;
  }
  return m;
}

function maxAbsDiff(a: Matrix, b: Matrix): number {
  let d = 0;
  for (let i = 0; i < a.data.length; i++) d = Math.max(d, Math.abs(a.data[i] - b.data[i]));
  return d;
}

describe('linear algebra', () => {
  it('solves an SPD system by Cholesky', () => {
    const a = fromRows([
      [4, 2, 0.6],
      [2, 5, 1],
      [0.6, 1, 3],
    ]);
    const x = fromRows([[1, -2], [0.5, 3], [-1, 0.25]]);
    expect(maxAbsDiff(choleskySolve(a, matmul(a, x)), x)).toBeLessThan(1e-12);
    expect(() => choleskySolve(fromRows([[1, 2], [2, 1]]), fromRows([[1], [1]]))).toThrow(/not positive definite/);
  });

  it('diagonalizes symmetric matrices: A·V = V·Λ with orthonormal V, descending Λ', () => {
    for (const n of [1, 2, 7, 40]) {
      const b = random(n, n + 3, n);
      const a = matmulTN(transpose(b), transpose(b));
      const { values, vectors } = symmetricEigen(a);
      const av = matmul(a, vectors);
      const vl = zeros(n, n);
      for (let r = 0; r < n; r++) for (let c = 0; c < n; c++) vl.data[r * n + c] = vectors.data[r * n + c] * values[c];
      expect(maxAbsDiff(av, vl)).toBeLessThan(1e-9);
      const vtv = matmulTN(vectors, vectors);
      for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) expect(vtv.data[i * n + j]).toBeCloseTo(i === j ? 1 : 0, 9);
      for (let i = 1; i < n; i++) expect(values[i]).toBeLessThanOrEqual(values[i - 1] + 1e-12);
    }
  });

  it('reconstructs a matrix from its SVD and truncates optimally', () => {
    for (const [r, c] of [[5, 9], [12, 4], [30, 30]]) {
      const a = random(r, c, r * 31 + c);
      const { U, S, V } = svd(a);
      const us = zeros(U.rows, S.length);
      for (let i = 0; i < U.rows; i++) for (let k = 0; k < S.length; k++) us.data[i * S.length + k] = U.data[i * S.length + k] * S[k];
      expect(maxAbsDiff(matmul(us, transpose(V)), a)).toBeLessThan(1e-9);
      // Eckart–Young: the rank-k error is the energy of the dropped singular values.
      const k = 2;
      const t = truncate({ U, S, V }, k);
      const tk = zeros(t.U.rows, k);
      for (let i = 0; i < t.U.rows; i++) for (let j = 0; j < k; j++) tk.data[i * k + j] = t.U.data[i * k + j] * t.S[j];
      const approx = matmul(tk, transpose(t.V));
      const err = zeros(a.rows, a.cols);
      for (let i = 0; i < err.data.length; i++) err.data[i] = a.data[i] - approx.data[i];
      const dropped = Math.sqrt(Array.from(S.subarray(k)).reduce((s, v) => s + v * v, 0));
      expect(frobenius(err)).toBeCloseTo(dropped, 9);
    }
  });

  it('ridge recovers a linear map, shrinks to bias compensation, and cross-validates per group', () => {
    const d = 3;
    const m = 2;
    const truth = fromRows([[1, -1], [0.5, 2], [0, 0.3]]);
    const bias = [0.7, -0.2];
    const stats = new RidgeStats(d, m);
    const noisy = new RidgeStats(d, m);
    let seed = 7;
    const rnd = () => ((seed = (seed * 1664525 + 1013904223) >>> 0) / 2 ** 32 - 0.5);
    for (let g = 0; g < 4; g++) {
      const n = 50;
      const x = new Float64Array(n * d).map(() => rnd());
      const y = new Float64Array(n * m);
      const yn = new Float64Array(n * m);
      for (let s = 0; s < n; s++) {
        for (let j = 0; j < m; j++) {
          let v = bias[j];
          for (let i = 0; i < d; i++) v += x[s * d + i] * truth.data[i * m + j];
          y[s * m + j] = v;
          yn[s * m + j] = bias[j] + rnd() * 2; // pure noise around the bias
        }
      }
      stats.add(g, x, y, n);
      noisy.add(g, x, yn, n);
    }
    const exact = stats.fit(1e-9);
    expect(maxAbsDiff(exact.P, truth)).toBeLessThan(1e-5);
    expect(exact.q[0]).toBeCloseTo(0.7, 5);
    const shrunk = stats.fit(1e9);
    expect(frobenius(shrunk.P)).toBeLessThan(1e-6);
    const cv = stats.fitCV([1e-6, 1, 1e4]);
    expect(cv.lambda).toBe(1e-6);
    // Where x carries no information about y, cross-validation prefers shrinking P to zero.
    const cvNoise = noisy.fitCV([1e-6, 1, 1e4]);
    expect(cvNoise.lambda).toBe(1e4);
  });
});
