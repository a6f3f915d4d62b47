import { choleskySolve } from './cholesky.js';
import { type Matrix, zeros } from './matrix.js';

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

  /** Adds `count` samples: x rows of length d, y rows of length m, to group g. */
  add(g: number, x: Float64Array | Float32Array, y: Float64Array | Float32Array, count: number): void {
    const { d, m } = this;
    while (this.groups.length <= g) {
      this.groups.push({ n: 0, gram: new Float64Array(d * d), cross: new Float64Array(d * m), sx: new Float64Array(d), sy: new Float64Array(m), syy: 0 });
    }
    const s = this.groups[g];
    for (let r = 0; r < count; r++) {
      const xo = r * d;
      const yo = r * m;
      for (let i = 0; i < d; i++) {
        const xi = x[xo + i];
        s.sx[i] += xi;
        if (xi === 0) continue;
        const gi = i * d;
        for (let j = i; j < d; j++) s.gram[gi + j] += xi * x[xo + j];
        const ci = i * m;
        for (let j = 0; j < m; j++) s.cross[ci + j] += xi * y[yo + j];
      }
      for (let j = 0; j < m; j++) {
        const yj = y[yo + j];
        s.sy[j] += yj;
        s.syy += yj * yj;
      }
    }
    s.n += count;
  }

  /** Totals over all groups except `exclude`. */
  private total(exclude = -1): GroupStats {
    const { d, m } = this;
    const t: GroupStats = { n: 0, gram: new Float64Array(d * d), cross: new Float64Array(d * m), sx: new Float64Array(d), sy: new Float64Array(m), syy: 0 };
    this.groups.forEach((s, g) => {
      if (g === exclude) return;
      t.n += s.n;
      t.syy += s.syy;
      addInto(t.gram, s.gram);
      addInto(t.cross, s.cross);
      addInto(t.sx, s.sx);
      addInto(t.sy, s.sy);
    });
    // only the upper triangle was accumulated
    for (let i = 0; i < d; i++) for (let j = 0; j < i; j++) t.gram[i * d + j] = t.gram[j * d + i];
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
    let e = s.syy;
    for (let j = 0; j < m; j++) {
      // Σ over samples of: −2 y·(xP+q) + (xP+q)²
      let cross = 0; // Σ y_j (xP)_j
      for (let i = 0; i < d; i++) cross += P.data[i * m + j] * s.cross[i * m + j];
      let quad = 0; // Σ (xP)_j²
      for (let i = 0; i < d; i++) {
        const pi = P.data[i * m + j];
        if (pi === 0) continue;
        let row = s.gram[i * d + i] * pi;
        for (let k = 0; k < d; k++) if (k !== i) row += (k > i ? s.gram[i * d + k] : s.gram[k * d + i]) * P.data[k * m + j];
        quad += pi * row;
      }
      let xp = 0; // Σ (xP)_j
      for (let i = 0; i < d; i++) xp += s.sx[i] * P.data[i * m + j];
      e += -2 * cross - 2 * q[j] * s.sy[j] + quad + 2 * q[j] * xp + s.n * q[j] * q[j];
    }
    return e;
  }

  /**
   * Picks lambda from `grid` by leave-one-group-out cross-validation, then
   * refits on all groups. With a single group there is nothing to hold out:
   * the largest lambda (the most conservative fit) is used.
   */
  fitCV(grid: readonly number[], prior?: Matrix): { P: Matrix; q: Float64Array; lambda: number; cvError: number[] } {
    const groups = this.groups.filter((s) => s.n > 0).length;
    if (groups < 2) {
      const lambda = Math.max(...grid);
      return { ...this.fit(lambda, prior), lambda, cvError: [] };
    }
    const cvError = grid.map((lambda) => {
      let e = 0;
      this.groups.forEach((s, g) => {
        if (s.n === 0) return;
        const { P, q } = this.fit(lambda, prior, g);
        e += this.groupError(g, P, q);
      });
      return e;
    });
    const best = cvError.indexOf(Math.min(...cvError));
    return { ...this.fit(grid[best], prior), lambda: grid[best], cvError };
  }
}

function addInto(a: Float64Array, b: Float64Array): void {
  for (let i = 0; i < a.length; i++) a[i] += b[i];
}

/** The default grid: from nearly unregularized to nearly pure bias compensation. */
export const RIDGE_GRID = [1e-4, 1e-3, 1e-2, 3e-2, 0.1, 0.3, 1, 3, 10, 100, 1e4] as const;
