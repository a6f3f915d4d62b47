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

/** a·b, with the inner loop over contiguous rows of b. */
export function matmul(a: Matrix, b: Matrix): Matrix {
  if (a.cols !== b.rows) throw new Error(`matmul: ${a.rows}×${a.cols} by ${b.rows}×${b.cols}`);
  const c = zeros(a.rows, b.cols);
  const { data: A } = a;
  const { data: B } = b;
  const C = c.data;
  const n = b.cols;
  for (let i = 0; i < a.rows; i++) {
    const ci = i * n;
    for (let k = 0; k < a.cols; k++) {
      const aik = A[i * a.cols + k];
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
  const C = c.data;
  const n = b.cols;
  for (let r = 0; r < a.rows; r++) {
    const ar = r * a.cols;
    const br = r * n;
    for (let i = 0; i < a.cols; i++) {
      const v = a.data[ar + i];
      if (v === 0) continue;
      const ci = i * n;
      for (let j = 0; j < n; j++) C[ci + j] += v * b.data[br + j];
    }
  }
  return c;
}

export function frobenius(a: Matrix): number {
  let s = 0;
  for (const v of a.data) s += v * v;
  return Math.sqrt(s);
}
