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
 * a·b, with the inner loop over contiguous rows of b, four of them per pass
 * so each row of the result is loaded and stored a quarter as often.
 */
export function matmul(a: Matrix, b: Matrix): Matrix {
  if (a.cols !== b.rows) throw new Error(`matmul: ${a.rows}×${a.cols} by ${b.rows}×${b.cols}`);
  const c = zeros(a.rows, b.cols);
  const { data: A } = a;
  const { data: B } = b;
  const C = c.data;
  const n = b.cols;
  const inner = a.cols;
  for (let i = 0; i < a.rows; i++) {
    const ci = i * n;
    const ai = i * inner;
    let k = 0;
    for (; k + 3 < inner; k += 4) {
      const a0 = A[ai + k], a1 = A[ai + k + 1], a2 = A[ai + k + 2], a3 = A[ai + k + 3];
      if (a0 === 0 && a1 === 0 && a2 === 0 && a3 === 0) continue;
      const b0 = k * n, b1 = b0 + n, b2 = b1 + n, b3 = b2 + n;
      for (let j = 0; j < n; j++) C[ci + j] += a0 * B[b0 + j] + a1 * B[b1 + j] + a2 * B[b2 + j] + a3 * B[b3 + j];
    }
    for (; k < inner; k++) {
      const aik = A[ai + k];
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
    for (let i = 0; i < p; i++) {
      const ai = i * len;
      const ci = i * q;
      let j = upper ? i : 0;
      for (; j + 3 < q; j += 4) {
        const b0 = j * len, b1 = b0 + len, b2 = b1 + len, b3 = b2 + len;
        let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        for (let t = 0; t < len; t++) {
          const v = at[ai + t];
          s0 += v * bt[b0 + t];
          s1 += v * bt[b1 + t];
          s2 += v * bt[b2 + t];
          s3 += v * bt[b3 + t];
        }
        C[ci + j] += s0;
        C[ci + j + 1] += s1;
        C[ci + j + 2] += s2;
        C[ci + j + 3] += s3;
      }
      for (; j < q; j++) {
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
