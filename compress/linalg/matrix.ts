// Dense row-major float64 matrices: just enough linear algebra for the
// gradient-free recovery and factorization maths (Gram matrices, ridge
// solves, symmetric eigendecompositions), with no dependency.

export interface Matrix {
  rows: number;
  cols: number;
  data: Float64Array;
}

export function zeros(rows: number, cols: number): Matrix {
  return { rows, cols, data: new Float64Array(rows * cols) };
}

export function fromRows(rows: number[][]): Matrix {
  const m = zeros(rows.length, rows[0]?.length ?? 0);
  rows.forEach((r, i) => m.data.set(r, i * m.cols));
  return m;
}

export function identity(n: number): Matrix {
  const m = zeros(n, n);
  for (let i = 0; i < n; i++) m.data[i * n + i] = 1;
  return m;
}

export function transpose(a: Matrix): Matrix {
  const t = zeros(a.cols, a.rows);
  for (let i = 0; i < a.rows; i++) for (let j = 0; j < a.cols; j++) t.data[j * a.rows + i] = a.data[i * a.cols + j];
  return t;
}

/**
 * a·b, with the inner loop over contiguous rows of b: two rows of the result
 * by four rows of b per pass, so each load of b serves two products and each
 * row of the result is loaded and stored a quarter as often.
 */
export function matmul(a: Matrix, b: Matrix): Matrix {
  if (a.cols !== b.rows) throw new Error(`matmul: ${a.rows}×${a.cols} by ${b.rows}×${b.cols}`);
  const c = zeros(a.rows, b.cols);
  const { data: A } = a;
  const { data: B } = b;
  const C = c.data;
  const n = b.cols;
  const inner = a.cols;
  let i = 0;
  for (; i + 1 < a.rows; i += 2) {
    const c0 = i * n, c1 = c0 + n;
    const r0 = i * inner, r1 = r0 + inner;
    let k = 0;
    for (; k + 3 < inner; k += 4) {
      const a00 = A[r0 + k], a01 = A[r0 + k + 1], a02 = A[r0 + k + 2], a03 = A[r0 + k + 3];
      const a10 = A[r1 + k], a11 = A[r1 + k + 1], a12 = A[r1 + k + 2], a13 = A[r1 + k + 3];
      const b0 = k * n, b1 = b0 + n, b2 = b1 + n, b3 = b2 + n;
      for (let j = 0; j < n; j++) {
        const w0 = B[b0 + j], w1 = B[b1 + j], w2 = B[b2 + j], w3 = B[b3 + j];
        C[c0 + j] += a00 * w0 + a01 * w1 + a02 * w2 + a03 * w3;
        C[c1 + j] += a10 * w0 + a11 * w1 + a12 * w2 + a13 * w3;
      }
    }
    for (; k < inner; k++) {
      const u = A[r0 + k], v = A[r1 + k];
      const bk = k * n;
      for (let j = 0; j < n; j++) {
        C[c0 + j] += u * B[bk + j];
        C[c1 + j] += v * B[bk + j];
      }
    }
  }
  for (; i < a.rows; i++) {
    const ci = i * n;
    for (let k = 0; k < inner; k++) {
      const aik = A[i * inner + k];
      if (aik === 0) continue;
      const bk = k * n;
      for (let j = 0; j < n; j++) C[ci + j] += aik * B[bk + j];
    }
  }
  return c;
}

/** aᵀ·b without forming aᵀ: the Gram / cross-covariance products of least squares. */
export function matmulTN(a: Matrix, b: Matrix): Matrix {
  if (a.rows !== b.rows) throw new Error(`matmulTN: ${a.rows}×${a.cols}ᵀ by ${b.rows}×${b.cols}`);
  const c = zeros(a.cols, b.cols);
  addProductTN(c.data, a.data, b.data, a.rows, a.cols, b.cols);
  return c;
}

/** Rows of the sample blocks that addProductTN transposes at a time: two blocks of columns stay in cache. */
const CHUNK = 64;

/**
 * C (p×q) += Aᵀ·B for row-major A (n×p) and B (n×q), e.g. one image's
 * samples at once. Blocks of rows are transposed so that every entry of C is
 * a dot product of contiguous columns, four entries per pass: several times
 * faster than n rank-1 updates, which load and store C for every product.
 * With `upper` (A = B, a Gram matrix) only the entries j ≥ i are accumulated.
 */
export function addProductTN(C: Float64Array, A: ArrayLike<number>, B: ArrayLike<number>, n: number, p: number, q: number, upper = false): void {
  const at = new Float64Array(p * CHUNK);
  const bt = upper ? at : new Float64Array(q * CHUNK);
  for (let r0 = 0; r0 < n; r0 += CHUNK) {
    const len = Math.min(CHUNK, n - r0);
    for (let t = 0; t < len; t++) {
      const ar = (r0 + t) * p;
      for (let i = 0; i < p; i++) at[i * len + t] = A[ar + i];
      if (!upper) {
        const br = (r0 + t) * q;
        for (let j = 0; j < q; j++) bt[j * len + t] = B[br + j];
      }
    }
    // two rows of C by four columns per pass: six loads feed eight products
    let i = 0;
    for (; i + 1 < p; i += 2) {
      const a0 = i * len, a1 = a0 + len;
      const c0 = i * q, c1 = c0 + q;
      let j = upper ? i : 0;
      for (; j + 3 < q; j += 4) {
        const b0 = j * len, b1 = b0 + len, b2 = b1 + len, b3 = b2 + len;
        let s00 = 0, s01 = 0, s02 = 0, s03 = 0, s10 = 0, s11 = 0, s12 = 0, s13 = 0;
        for (let t = 0; t < len; t++) {
          const u = at[a0 + t], v = at[a1 + t];
          const w0 = bt[b0 + t], w1 = bt[b1 + t], w2 = bt[b2 + t], w3 = bt[b3 + t];
          s00 += u * w0;
          s01 += u * w1;
          s02 += u * w2;
          s03 += u * w3;
          s10 += v * w0;
          s11 += v * w1;
          s12 += v * w2;
          s13 += v * w3;
        }
        C[c0 + j] += s00;
        C[c0 + j + 1] += s01;
        C[c0 + j + 2] += s02;
        C[c0 + j + 3] += s03;
        if (!upper || j > i) C[c1 + j] += s10; // (i+1, i) is below the diagonal
        C[c1 + j + 1] += s11;
        C[c1 + j + 2] += s12;
        C[c1 + j + 3] += s13;
      }
      for (; j < q; j++) {
        const bj = j * len;
        let s0 = 0, s1 = 0;
        for (let t = 0; t < len; t++) {
          s0 += at[a0 + t] * bt[bj + t];
          s1 += at[a1 + t] * bt[bj + t];
        }
        C[c0 + j] += s0;
        if (!upper || j > i) C[c1 + j] += s1;
      }
    }
    for (; i < p; i++) {
      const ai = i * len;
      const ci = i * q;
      for (let j = upper ? i : 0; j < q; j++) {
        const bj = j * len;
        let s = 0;
        for (let t = 0; t < len; t++) s += at[ai + t] * bt[bj + t];
        C[ci + j] += s;
      }
    }
  }
}

export function frobenius(a: Matrix): number {
  let s = 0;
  for (const v of a.data) s += v * v;
  return Math.sqrt(s);
}
