import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../../compress/random.js';
import { baseGenome, genomeKey, genomeProblemParts, parseGenome, type Genome } from '../../../compress/search/genome.js';
import type { SearchSpace } from '../../../compress/search/space.js';
import { SearchSpaceError } from '../../../compress/search/errors.js';

// A small space by hand: 40 prune groups of 1–3 removal levels, 6 convs, 3 sizes, 3 precisions.
const space: SearchSpace = {
  baseSize: 640,
  sizes: [640, 512, 416],
  precisions: ['fp32', 'fp16', 'int8'],
  groups: Array.from({ length: 40 }, (_, k) => ({ name: `g${k}`, units: 64, removals: k % 7 === 0 ? [0] : k % 2 ? [0, 16, 32] : [0, 24] })),
  convs: Array.from({ length: 6 }, (_, k) => ({ name: `c${k}`, options: [null, { method: 'spatial' as const, keep: 0.25 }, { method: 'spatial' as const, keep: 0.125 }] })),
};
const vector = (g: Genome) => [space.sizes.indexOf(g.size), space.precisions.indexOf(g.precision), ...g.prune, ...g.factor];
const card = [3, 3, ...space.groups.map((g) => g.removals.length), ...space.convs.map((c) => c.options.length)];
const ops = genomeProblemParts(space);

describe('search genome', () => {
  it('the base genome is the base model: base size, fp32, nothing cut', () => {
    const b = baseGenome(space);
    expect(b).toEqual({ size: 640, precision: 'fp32', prune: new Array(40).fill(0), factor: new Array(6).fill(0) });
    expect(parseGenome(space, JSON.parse(JSON.stringify(b)))).toEqual(b);
  });

  it('random genomes are valid and spread from nearly uncut to nearly all cut', () => {
    const rng = mulberry32(7);
    const cutShares: number[] = [];
    const cuttable = card.slice(2).filter((n) => n > 1).length;
    for (let i = 0; i < 300; i++) {
      const g = ops.random(rng);
      expect(parseGenome(space, g)).toEqual(g);
      cutShares.push(vector(g).slice(2).filter((x) => x > 0).length / cuttable);
    }
    expect(Math.min(...cutShares)).toBeLessThan(0.1);
    expect(Math.max(...cutShares)).toBeGreaterThan(0.9);
    // every value of every gene is drawn at least once
    const seen = card.map(() => new Set<number>());
    for (let i = 0; i < 300; i++) vector(ops.random(rng)).forEach((x, j) => seen[j].add(x));
    expect(seen.map((s) => s.size)).toEqual(card);
  });

  it('uniform crossover: each position of the two children holds the two parents\' values there, and both parents\' genes reach a child', () => {
    const rng = mulberry32(3);
    let fromA = 0, fromB = 0;
    for (let i = 0; i < 50; i++) {
      const a = ops.random(rng), b = ops.random(rng);
      const [c, d] = ops.crossover(a, b, rng);
      const [va, vb, vc, vd] = [a, b, c, d].map(vector);
      va.forEach((x, j) => {
        expect([vc[j], vd[j]].sort()).toEqual([x, vb[j]].sort());
        if (x !== vb[j]) (vc[j] === x ? fromA++ : fromB++);
      });
    }
    // a fair coin per gene: the first child takes about half of the differing genes from each parent
    expect(fromA / (fromA + fromB)).toBeGreaterThan(0.4);
    expect(fromA / (fromA + fromB)).toBeLessThan(0.6);
  });

  it('mutation moves genes by one step, about one gene per call, and never off the ends', () => {
    const rng = mulberry32(11);
    let moved = 0;
    const trials = 3000;
    const movable = card.filter((n) => n > 1).length;
    const wrong: string[] = [];
    for (let t = 0; t < trials; t++) {
      const g = t % 2 ? baseGenome(space) : ops.random(rng);
      const before = JSON.stringify(g);
      const m = ops.mutate(g, rng);
      parseGenome(space, m);
      const [vg, vm] = [vector(g), vector(m)];
      vg.forEach((x, j) => {
        if (Math.abs(vm[j] - x) > 1 || (card[j] === 1 && vm[j] !== 0)) wrong.push(`${t}:${j} ${x}→${vm[j]}`);
        if (vm[j] !== x) moved++;
      });
      if (JSON.stringify(g) !== before) wrong.push(`${t}: parent changed in place`);
    }
    expect(wrong).toEqual([]);
    // probability 1/genes per gene: movable/genes genes per call on average (binomial, sd ≈ 0.02 over 3000 calls)
    expect(moved / trials).toBeCloseTo(movable / card.length, 1);
  });

  it('keys: equal genomes give equal keys, different genomes different keys', () => {
    const rng = mulberry32(5);
    const byKey = new Map<string, string>();
    for (let i = 0; i < 500; i++) {
      const g = ops.random(rng);
      const k = ops.key(g);
      expect(k).toBe(genomeKey(structuredClone(g)));
      const json = JSON.stringify(g);
      if (byKey.has(k)) expect(byKey.get(k)).toBe(json);
      byKey.set(k, json);
    }
    expect(ops.key(baseGenome(space))).toBe(`640/fp32/${'0'.repeat(40)}/000000`);
  });

  it('a genome read from JSON that does not fit the space is refused with one clear line', () => {
    const b = baseGenome(space);
    const bad = (v: unknown, re: RegExp) => {
      expect(() => parseGenome(space, v)).toThrow(SearchSpaceError);
      expect(() => parseGenome(space, v)).toThrow(re);
    };
    bad(null, /expected an object/);
    bad({ ...b, size: 600 }, /size 600 is not one of 640, 512, 416/);
    bad({ ...b, precision: 'int4' }, /precision "int4"/);
    bad({ ...b, prune: b.prune.slice(1) }, /prune must be an array of 40 gene indices, got 39/);
    bad({ ...b, prune: b.prune.map((_, k) => (k === 1 ? 3 : 0)) }, /prune\[1\] = 3 is not an index below 3/);
    bad({ ...b, factor: 'none' }, /factor must be an array of 6/);
  });
});
