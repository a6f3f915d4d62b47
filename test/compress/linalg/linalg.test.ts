import { describe, expect, it } from 'vitest';
import { backSubstitute, choleskyFactor, choleskySolve, forwardSubstitute } from '../../../compress/linalg/cholesky.js';
import { symmetricEigen } from '../../../compress/linalg/eigen.js';
import { type Matrix, addProductTN, frobenius, fromRows, matmul, matmulTN, transpose, zeros } from '../../../compress/linalg/matrix.js';
import { RidgeStats, unimodalMinimum } from '../../../compress/linalg/ridge.js';
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

  it('blocked products match the plain definitions at sizes off the block grid', () => {
    const naive = (a: Matrix, b: Matrix) => {
      const c = zeros(a.cols, b.cols);
      for (let r = 0; r < a.rows; r++) for (let i = 0; i < a.cols; i++) for (let j = 0; j < b.cols; j++) c.data[i * b.cols + j] += a.data[r * a.cols + i] * b.data[r * b.cols + j];
      return c;
    };
    for (const [n, p, q] of [[1, 1, 1], [70, 7, 5], [130, 13, 9], [64, 4, 8]]) {
      const a = random(n, p, n + p);
      const b = random(n, q, n + q + 1);
      expect(maxAbsDiff(matmulTN(a, b), naive(a, b))).toBeLessThan(1e-12);
      const upper = new Float64Array(p * p);
      addProductTN(upper, a.data, a.data, n, p, p, true);
      const full = naive(a, a);
      for (let i = 0; i < p; i++) for (let j = 0; j < p; j++) expect(upper[i * p + j]).toBeCloseTo(j >= i ? full.data[i * p + j] : 0, 12);
      const x = random(p, q, 3);
      const want = zeros(n, q);
      for (let r = 0; r < n; r++) for (let k = 0; k < p; k++) for (let j = 0; j < q; j++) want.data[r * q + j] += a.data[r * p + k] * x.data[k * q + j];
      expect(maxAbsDiff(matmul(a, x), want)).toBeLessThan(1e-12);
    }
  });

  it('factors A = L·Lᵀ and solves through both triangles at sizes off the block grid', () => {
    for (const n of [1, 2, 5, 8, 9, 23, 24]) {
      const b = random(n + 4, n, n);
      const a = matmulTN(b, b);
      for (let i = 0; i < n; i++) a.data[i * n + i] += 0.1;
      const L = choleskyFactor(a);
      const l = { rows: n, cols: n, data: L };
      expect(maxAbsDiff(matmul(l, transpose(l)), a)).toBeLessThan(1e-12);
      for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) expect(L[i * n + j]).toBe(0);
      const x = random(n, 3, 2 * n);
      const rhs = matmul(a, x);
      const y = Float64Array.from(rhs.data);
      forwardSubstitute(L, y, n, 3);
      backSubstitute(L, y, n, 3);
      expect(maxAbsDiff({ rows: n, cols: 3, data: y }, x)).toBeLessThan(1e-9);
    }
  });

  it('finds the minimum of a unimodal sequence with few evaluations', () => {
    for (let n = 1; n <= 12; n++) {
      for (let m = 0; m < n; m++) {
        const seen = new Set<number>();
        const f = (k: number) => (seen.add(k), (k - m) ** 2);
        expect(unimodalMinimum(n, f)).toBe(m);
        if (n >= 7) expect(seen.size).toBeLessThan(n);
      }
    }
    // a flat stretch resolves to its lowest index
    expect(unimodalMinimum(7, (k) => (k < 3 ? 3 - k : 0))).toBe(3);
  });

  it('ridge CV by unimodal search picks the grid minimum and evaluates fewer strengths', () => {
    const d = 6;
    const m = 3;
    const stats = new RidgeStats(d, m);
    let seed = 11;
    const rnd = () => ((seed = (seed * 1664525 + 1013904223) >>> 0) / 2 ** 32 - 0.5);
    const truth = new Float64Array(d * m).map(() => rnd());
    const first = { x: new Float64Array(0), y: new Float64Array(0), n: 0 };
    for (let g = 0; g < 4; g++) {
      const n = 12; // few samples per group and noisy targets: some shrinkage pays
      const x = new Float64Array(n * d).map(() => rnd());
      const y = new Float64Array(n * m);
      for (let s = 0; s < n; s++) for (let j = 0; j < m; j++) {
        let v = rnd();
        for (let i = 0; i < d; i++) v += x[s * d + i] * truth[i * m + j];
        y[s * m + j] = v;
      }
      stats.add(g, x, y, n);
      if (g === 0) Object.assign(first, { x, y, n });
    }
    const grid = [1e-4, 1e-3, 1e-2, 3e-2, 0.1, 0.3, 1, 3, 10, 100, 1e4];
    const full = stats.fitCV(grid);
    const fast = stats.fitCV(grid, undefined, { search: 'unimodal' });
    expect(fast.lambda).toBe(full.lambda);
    expect(fast.cvError.filter(Number.isFinite).length).toBeLessThan(grid.length);
    expect(maxAbsDiff(fast.P, full.P)).toBe(0);
    // the errors it did evaluate agree with the exhaustive search
    fast.cvError.forEach((e, k) => Number.isFinite(e) && expect(e).toBeCloseTo(full.cvError[k], 9));
    // group errors from statistics equal the errors computed sample by sample
    const { P, q } = stats.fit(0.1);
    let direct = 0;
    for (let s = 0; s < first.n; s++) for (let j = 0; j < m; j++) {
      let v = q[j];
      for (let i = 0; i < d; i++) v += first.x[s * d + i] * P.data[i * m + j];
      direct += (first.y[s * m + j] - v) ** 2;
    }
    expect(stats.groupError(0, P, q)).toBeCloseTo(direct, 9);
  });
});
