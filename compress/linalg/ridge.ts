import { choleskySolve } from './cholesky.js';
import { addProductTN, matmul, type Matrix, zeros } from './matrix.js';

/**
 * Ridge regression Y ≈ X·P + q from sufficient statistics accumulated per
 * group (one group = one calibration image), so that leave-one-group-out
 * cross-validation costs no second pass over the data. The intercept q is
 * never penalized; P shrinks toward `prior` (zero by default), so an infinite
 * penalty leaves q = mean(Y − X·prior): plain bias compensation.
 */

interface GroupStats {
  n: number;
  gram: Float64Array; // XᵀX, d×d
  cross: Float64Array; // XᵀY, d×m
  sx: Float64Array; // Σx, d
  sy: Float64Array; // Σy, m
  syy: number; // Σ‖y‖²
}

export class RidgeStats {
  readonly groups: GroupStats[] = [];

  constructor(
    readonly d: number,
    readonly m: number,
  ) {}

  private totals: GroupStats | undefined;

  /** Adds `count` samples: x rows of length d, y rows of length m, to group g. */
  add(g: number, x: Float64Array | Float32Array, y: Float64Array | Float32Array, count: number): void {
    const { d, m } = this;
    while (this.groups.length <= g) this.groups.push(emptyStats(d, m));
    const s = this.groups[g];
    addProductTN(s.gram, x, x, count, d, d, true);
    // only the upper triangle was accumulated: mirror it so groupError reads whole rows
    for (let i = 0; i < d; i++) for (let j = 0; j < i; j++) s.gram[i * d + j] = s.gram[j * d + i];
    addProductTN(s.cross, x, y, count, d, m);
    for (let r = 0; r < count; r++) {
      const xo = r * d;
      for (let i = 0; i < d; i++) s.sx[i] += x[xo + i];
      const yo = r * m;
      for (let j = 0; j < m; j++) {
        const yj = y[yo + j];
        s.sy[j] += yj;
        s.syy += yj * yj;
      }
    }
    s.n += count;
    this.totals = undefined;
  }

  /** Totals over all groups except `exclude` (the all-group totals are kept between fits). */
  private total(exclude = -1): GroupStats {
    const { d, m } = this;
    if (!this.totals) {
      const t = emptyStats(d, m);
      for (const s of this.groups) {
        t.n += s.n;
        t.syy += s.syy;
        addInto(t.gram, s.gram, 1);
        addInto(t.cross, s.cross, 1);
        addInto(t.sx, s.sx, 1);
        addInto(t.sy, s.sy, 1);
      }
      this.totals = t;
    }
    const all = this.totals;
    const s = this.groups[exclude];
    if (!s) return all;
    const t: GroupStats = { n: all.n - s.n, gram: Float64Array.from(all.gram), cross: Float64Array.from(all.cross), sx: Float64Array.from(all.sx), sy: Float64Array.from(all.sy), syy: all.syy - s.syy };
    addInto(t.gram, s.gram, -1);
    addInto(t.cross, s.cross, -1);
    addInto(t.sx, s.sx, -1);
    addInto(t.sy, s.sy, -1);
    return t;
  }

  /**
   * Fits P (d×m) and q (m). `lambda` is relative to the mean diagonal of the
   * centred Gram matrix, so one grid fits activations of any scale.
   */
  fit(lambda: number, prior?: Matrix, exclude = -1): { P: Matrix; q: Float64Array } {
    const { d, m } = this;
    const t = this.total(exclude);
    if (t.n === 0) throw new Error('ridge: no samples');
    const A = zeros(d, d);
    const B = zeros(d, m);
    let trace = 0;
    for (let i = 0; i < d; i++) {
      for (let j = 0; j < d; j++) A.data[i * d + j] = t.gram[i * d + j] - (t.sx[i] * t.sx[j]) / t.n;
      trace += A.data[i * d + i];
      for (let j = 0; j < m; j++) B.data[i * m + j] = t.cross[i * m + j] - (t.sx[i] * t.sy[j]) / t.n;
    }
    const penalty = lambda * Math.max(trace / Math.max(d, 1), 1e-12);
    for (let i = 0; i < d; i++) {
      A.data[i * d + i] += penalty + 1e-12;
      if (prior) for (let j = 0; j < m; j++) B.data[i * m + j] += penalty * prior.data[i * m + j];
    }
    const P = choleskySolve(A, B);
    const q = new Float64Array(m);
    for (let j = 0; j < m; j++) {
      let s = t.sy[j];
      for (let i = 0; i < d; i++) s -= P.data[i * m + j] * t.sx[i];
      q[j] = s / t.n;
    }
    return { P, q };
  }

  /** Squared error of (P, q) on group g, from its statistics alone. */
  groupError(g: number, P: Matrix, q: Float64Array): number {
    const { d, m } = this;
    const s = this.groups[g];
    // Σ over samples of ‖y − xP − q‖² = Σ‖y‖² − 2⟨P, XᵀY⟩ − 2 q·Σy + ⟨P, XᵀX·P⟩ + 2 q·(ΣxᵀP) + n‖q‖²
    const GP = matmul({ rows: d, cols: d, data: s.gram }, P).data;
    let e = s.syy;
    for (let k = 0; k < d * m; k++) e += P.data[k] * (GP[k] - 2 * s.cross[k]);
    for (let j = 0; j < m; j++) {
      let xp = 0;
      for (let i = 0; i < d; i++) xp += s.sx[i] * P.data[i * m + j];
      e += -2 * q[j] * s.sy[j] + 2 * q[j] * xp + s.n * q[j] * q[j];
    }
    return e;
  }

  /**
   * Picks lambda from `grid` by leave-one-group-out cross-validation, then
   * refits on all groups. With a single group there is nothing to hold out:
   * the largest lambda (the most conservative fit) is used.
   *
   * `search: 'unimodal'` (for an ascending grid) assumes the CV error falls
   * then rises along the grid, as it does when lambda trades variance for
   * bias, and finds its minimum by a discrete golden-section search: about
   * log₁.₆(|grid|) + 2 strengths tried instead of all of them. Strengths it
   * skips have NaN in `cvError`.
   */
  fitCV(grid: readonly number[], prior?: Matrix, options: { search?: 'grid' | 'unimodal' } = {}): { P: Matrix; q: Float64Array; lambda: number; cvError: number[] } {
    if (grid.length === 0) throw new Error('ridge: empty lambda grid');
    const groups = this.groups.filter((s) => s.n > 0).length;
    if (groups < 2) {
      const lambda = Math.max(...grid);
      return { ...this.fit(lambda, prior), lambda, cvError: [] };
    }
    const cvError = grid.map(() => NaN);
    const errorAt = (k: number): number => {
      if (Number.isNaN(cvError[k])) {
        let e = 0;
        this.groups.forEach((s, g) => {
          if (s.n === 0) return;
          const { P, q } = this.fit(grid[k], prior, g);
          e += this.groupError(g, P, q);
        });
        cvError[k] = e;
      }
      return cvError[k];
    };
    let best: number;
    if (options.search === 'unimodal') best = unimodalMinimum(grid.length, errorAt);
    else {
      grid.forEach((_, k) => errorAt(k));
      best = cvError.indexOf(Math.min(...cvError));
    }
    return { ...this.fit(grid[best], prior), lambda: grid[best], cvError };
  }
}

/** Index of the minimum of f over 0..n-1 for f that falls then rises (ties go to the lower index). */
export function unimodalMinimum(n: number, f: (k: number) => number): number {
  let lo = 0;
  let hi = n - 1;
  while (hi - lo > 2) {
    const a = lo + Math.round((hi - lo) * 0.382);
    const b = Math.max(a + 1, hi - Math.round((hi - lo) * 0.382));
    if (f(a) <= f(b)) hi = b;
    else lo = a;
  }
  let best = lo;
  for (let k = lo + 1; k <= hi; k++) if (f(k) < f(best)) best = k;
  return best;
}

function emptyStats(d: number, m: number): GroupStats {
  return { n: 0, gram: new Float64Array(d * d), cross: new Float64Array(d * m), sx: new Float64Array(d), sy: new Float64Array(m), syy: 0 };
}

function addInto(a: Float64Array, b: Float64Array, sign: 1 | -1): void {
  for (let i = 0; i < a.length; i++) a[i] += sign * b[i];
}

/** The default grid: from nearly unregularized to nearly pure bias compensation. */
export const RIDGE_GRID = [1e-4, 1e-3, 1e-2, 3e-2, 0.1, 0.3, 1, 3, 10, 100, 1e4] as const;
