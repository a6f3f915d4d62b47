// A candidate as genes over a search space (space.ts) and the operators the
// NSGA-II loop needs: random draw, uniform crossover, one-step mutation and a
// compact key. Every gene is ordinal: size and precision index their lists
// (base first), prune and factor genes index a group's removal counts and a
// conv's options (0 = untouched, higher = harder).
import type { Precision } from '../latency/features.js';
import type { SearchSpace } from './space.js';
import { SearchSpaceError } from './errors.js';

export interface Genome {
  size: number;
  precision: Precision;
  /** Per prune group: index into the group's removals. */
  prune: number[];
  /** Per factorizable conv: index into its options. */
  factor: number[];
}

/** The operators of compress/search/nsga2.ts' SearchProblem that depend on the space only. */
export interface GenomeOperators {
  random(rng: () => number): Genome;
  crossover(a: Genome, b: Genome, rng: () => number): [Genome, Genome];
  mutate(g: Genome, rng: () => number): Genome;
  key(g: Genome): string;
}

/** The base model: base size, fp32, nothing cut. */
export const baseGenome = (space: SearchSpace): Genome => ({
  size: space.baseSize,
  precision: 'fp32',
  prune: space.groups.map(() => 0),
  factor: space.convs.map(() => 0),
});

/** Genes as one ordinal vector (size index, precision index, prune..., factor...) and the number of values of each. */
function toVector(space: SearchSpace, g: Genome): number[] {
  return [space.sizes.indexOf(g.size), space.precisions.indexOf(g.precision), ...g.prune, ...g.factor];
}

function fromVector(space: SearchSpace, v: readonly number[]): Genome {
  const p = 2 + space.groups.length;
  return { size: space.sizes[v[0]], precision: space.precisions[v[1]], prune: v.slice(2, p), factor: v.slice(p) };
}

function cardinalities(space: SearchSpace): number[] {
  return [space.sizes.length, space.precisions.length, ...space.groups.map((g) => g.removals.length), ...space.convs.map((c) => c.options.length)];
}

const pick = (n: number, rng: () => number) => Math.min(n - 1, Math.floor(rng() * n));

export function genomeProblemParts(space: SearchSpace): GenomeOperators {
  const card = cardinalities(space);
  return {
    // A uniform draw cuts about 2/3 of yolov8n's ~60 groups in every genome,
    // so the first population would hold heavy cuts only and the front's
    // high-fidelity end would wait for mutations. Drawing an intensity first
    // (the chance that each structural gene cuts at all) spreads the
    // population from nearly the base model to everything cut.
    random(rng) {
      const intensity = rng();
      const v = card.map((n, i) => (i < 2 ? pick(n, rng) : n > 1 && rng() < intensity ? 1 + pick(n - 1, rng) : 0));
      return fromVector(space, v);
    },
    crossover(a, b, rng) {
      const va = toVector(space, a), vb = toVector(space, b);
      const ca: number[] = [], cb: number[] = [];
      for (let i = 0; i < va.length; i++) {
        const swap = rng() < 0.5;
        ca.push(swap ? vb[i] : va[i]);
        cb.push(swap ? va[i] : vb[i]);
      }
      return [fromVector(space, ca), fromVector(space, cb)];
    },
    // Each gene moves one step up or down with probability 1/genes (a gene at
    // an end moves to its one neighbour); one-valued genes never move.
    mutate(g, rng) {
      const v = toVector(space, g);
      const rate = 1 / card.length;
      for (let i = 0; i < v.length; i++) {
        if (card[i] < 2 || rng() >= rate) continue;
        const up = v[i] === 0 || (v[i] < card[i] - 1 && rng() < 0.5);
        v[i] += up ? 1 : -1;
      }
      return fromVector(space, v);
    },
    key: genomeKey,
  };
}

const DIGITS = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';

/** One character per gene value (gene lists are short: at most 62 values each): `640/int8/0102…/01…`. */
export function genomeKey(g: Genome): string {
  const digits = (xs: number[]) => xs.map((x) => DIGITS[x] ?? `(${x})`).join('');
  return `${g.size}/${g.precision}/${digits(g.prune)}/${digits(g.factor)}`;
}

/** A genome read from JSON (a resumed state, a lineage), checked against its space; one clear line when it does not fit. */
export function parseGenome(space: SearchSpace, value: unknown): Genome {
  const fail = (what: string): never => {
    throw new SearchSpaceError(`not a genome of this search space: ${what}`);
  };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return fail('expected an object with size, precision, prune and factor');
  const o = value as Record<string, unknown>;
  if (typeof o.size !== 'number' || !space.sizes.includes(o.size)) fail(`size ${JSON.stringify(o.size)} is not one of ${space.sizes.join(', ')}`);
  if (typeof o.precision !== 'string' || !(space.precisions as string[]).includes(o.precision)) fail(`precision ${JSON.stringify(o.precision)} is not one of ${space.precisions.join(', ')}`);
  const genes = (name: 'prune' | 'factor', sizes: number[]): number[] => {
    const xs = o[name];
    if (!Array.isArray(xs) || xs.length !== sizes.length) return fail(`${name} must be an array of ${sizes.length} gene indices, got ${Array.isArray(xs) ? `${xs.length}` : typeof xs}`);
    xs.forEach((x, i) => {
      if (!Number.isInteger(x) || x < 0 || x >= sizes[i]) fail(`${name}[${i}] = ${JSON.stringify(x)} is not an index below ${sizes[i]}`);
    });
    return xs as number[];
  };
  const prune = genes('prune', space.groups.map((g) => g.removals.length));
  const factor = genes('factor', space.convs.map((c) => c.options.length));
  return { size: o.size as number, precision: o.precision as Precision, prune: [...prune], factor: [...factor] };
}
