// Real-coded operators and the ZDT test problems (Zitzler, Deb, Thiele 2000),
// for testing the NSGA-II core against fronts known in closed form. The
// operators are the bounded forms of Deb's reference NSGA-II code: simulated
// binary crossover (SBX, Deb & Agrawal 1995) and polynomial mutation.
import type { SearchProblem } from '../../../compress/search/nsga2.js';

/** SBX on [0,1]^n: each variable crossed with probability 0.5, the pair with probability pc. */
export function sbx(a: number[], b: number[], rng: () => number, eta = 15, pc = 0.9): [number[], number[]] {
  const c1 = [...a];
  const c2 = [...b];
  if (rng() > pc) return [c1, c2];
  for (let i = 0; i < a.length; i++) {
    if (rng() > 0.5 || Math.abs(a[i] - b[i]) <= 1e-14) continue;
    const y1 = Math.min(a[i], b[i]);
    const y2 = Math.max(a[i], b[i]);
    const u = rng();
    const spread = (beta: number) => {
      const alpha = 2 - Math.pow(beta, -(eta + 1));
      return u <= 1 / alpha ? Math.pow(u * alpha, 1 / (eta + 1)) : Math.pow(1 / (2 - u * alpha), 1 / (eta + 1));
    };
    const lo = 0.5 * (y1 + y2 - spread(1 + (2 * (y1 - 0)) / (y2 - y1)) * (y2 - y1));
    const hi = 0.5 * (y1 + y2 + spread(1 + (2 * (1 - y2)) / (y2 - y1)) * (y2 - y1));
    const [x1, x2] = [clamp01(lo), clamp01(hi)];
    if (rng() < 0.5) [c1[i], c2[i]] = [x2, x1];
    else [c1[i], c2[i]] = [x1, x2];
  }
  return [c1, c2];
}

/** Polynomial mutation on [0,1]^n: each variable with probability pm (default 1/n). */
export function polynomialMutation(x: number[], rng: () => number, eta = 20, pm = 1 / x.length): number[] {
  const y = [...x];
  const power = 1 / (eta + 1);
  for (let i = 0; i < y.length; i++) {
    if (rng() >= pm) continue;
    const r = rng();
    let deltaq: number;
    if (r < 0.5) {
      const v = 2 * r + (1 - 2 * r) * Math.pow(1 - y[i], eta + 1);
      deltaq = Math.pow(v, power) - 1;
    } else {
      const v = 2 * (1 - r) + 2 * (r - 0.5) * Math.pow(y[i], eta + 1);
      deltaq = 1 - Math.pow(v, power);
    }
    y[i] = clamp01(y[i] + deltaq);
  }
  return y;
}

/** ZDT1 (convex front f2 = 1 − √f1) or ZDT2 (concave front f2 = 1 − f1²), n variables in [0,1]. */
export function zdt(which: 1 | 2, n = 30): SearchProblem<number[]> {
  return {
    random: (rng) => Array.from({ length: n }, () => rng()),
    crossover: (a, b, rng) => sbx(a, b, rng),
    mutate: (g, rng) => polynomialMutation(g, rng),
    key: (g) => g.join(','),
    evaluate: (x) => {
      let sum = 0;
      for (let i = 1; i < n; i++) sum += x[i];
      const g = 1 + (9 * sum) / (n - 1);
      const f1 = x[0];
      const f2 = which === 1 ? g * (1 - Math.sqrt(f1 / g)) : g * (1 - (f1 / g) ** 2);
      return { objectives: [f1, f2], violation: 0 };
    },
  };
}

const clamp01 = (v: number) => Math.min(1, Math.max(0, v));
