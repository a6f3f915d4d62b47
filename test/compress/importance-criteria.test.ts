// Every pruning criterion against its published definition, on a tiny C2f-like
// net with hand-picked weights: conv A (3→6) is split in halves; the second
// half runs through conv B and a residual Add; Concat(p, q, q + B(q)) feeds
// conv D. Group 0 is A's first half (D reads it at columns 0..2); group 1 is
// A's second half coupled with B's output (D reads each unit twice, at
// columns 3+k and 6+k; B reads it as its input). The expected scores are
// computed below from the weight arrays by a few lines written from the
// definitions (Torch-Pruning's MagnitudeImportance, LAMPImportance,
// group-norm importance; FPGM, APoZ, mean activation from their papers), never
// by calling the code under test.
import { describe, expect, it } from 'vitest';
import { floatTensor, type AttributeValue } from '../../compress/onnx/ir.js';
import { buildDependencyGraph } from '../../compress/prune/dependency.js';
import { buildGroups } from '../../compress/prune/groups.js';
import { groupImportance, reduceLayers, type ChannelActivity, type GroupReduction, type ImportanceMethod } from '../../compress/prune/importance.js';
import { planFromCounts } from '../../compress/prune/allocate.js';
import { mulberry32 } from '../../compress/random.js';
import { Net } from './prune/helpers.js';

type M = number[][];
// Dyadic values: exact in float32, so the reference needs no tolerance games.
const WA: M = [
  [1, 0.5, -0.5],
  [0.25, 0.25, 0],
  [-2, 1, 0.5],
  [0.5, -0.5, 0.25], // A row 3 = group 1 unit 0
  [1.5, 0, 0],
  [0.25, 0.5, -0.25],
];
// B's weights are much larger than A's: under TP's definition (reduce raw
// layer scores, then normalise) B decides group 1's ranking; normalising each
// layer first, as this file's code once did, gives a different order.
const WB: M = [
  [0.5, 4, 0.5],
  [4, 0.25, 0.5],
  [0.25, 0.5, 0.25],
];
const WD: M = [
  [0.25, 1, 0.5, 2, 0.25, 0.5, 0.5, 0.25, 1],
  [0.5, -0.5, 0.25, -1, 0.25, 0.5, 0.25, 0.5, -2],
];

const ints = (value: number[]): AttributeValue => ({ type: 'ints', value });

function conv(n: Net, x: string, name: string, w: M): string {
  const t = n.init(floatTensor(name, [w.length, w[0].length, 1, 1], Float32Array.from(w.flat())));
  return n.op('Conv', [x, t], { kernel_shape: ints([1, 1]) })[0];
}

function buildNet() {
  const n = new Net();
  const a = n.silu(conv(n, 'images', 'WA', WA));
  const [p, q] = n.op('Split', [a, n.ints('sizes', [3, 3])], { axis: { type: 'int', value: 1 } }, 2);
  const b = n.silu(conv(n, q, 'WB', WB));
  const r = n.op('Add', [q, b])[0];
  const cat = n.op('Concat', [p, q, r], { axis: { type: 'int', value: 1 } })[0];
  const d = conv(n, cat, 'WD', WD);
  const index = buildGroups(buildDependencyGraph(n.model(d, 4)));
  return { index, names: { p, q, r, cat } };
}

// --- Reference definitions, written from the papers / Torch-Pruning's docs ---
const powSum = (xs: number[], p: number) => xs.reduce((s, x) => s + Math.abs(x) ** p, 0);
/** Σ|w|^p over filter `row` (a producer's output channel). */
const outNorm = (w: M, row: number, p: number) => powSum(w[row], p);
/** Σ|w|^p over input column `col` across all filters (a consumer's input channel). */
const inNorm = (w: M, col: number, p: number) => powSum(w.map((r) => r[col]), p);
/** FPGM: Σ_j ‖F_i − F_j‖₂ over every filter j of the layer. */
const fpgm = (w: M, i: number) => w.reduce((s, f) => s + Math.sqrt(f.reduce((t, x, c) => t + (x - w[i][c]) ** 2, 0)), 0);
const sum = (xs: number[]) => xs.reduce((s, x) => s + x, 0);
const mean = (xs: number[]) => sum(xs) / xs.length;
/** TP's _reduce over per-layer vectors (one entry per unit). */
function reduce(layers: number[][], how: GroupReduction): number[] {
  return layers[0].map((_, k) => {
    const col = layers.map((l) => l[k]);
    return how === 'max' ? Math.max(...col) : how === 'sum' ? sum(col) : mean(col);
  });
}
/** TP's 'mean' normalizer on the reduced vector. */
const byMean = (v: number[]) => v.map((x) => x / mean(v));
/** LAMP (Lee et al. 2021): s_i / Σ_{j : s_j ≥ s_i} s_j. */
const lampOf = (v: number[]) => v.map((x) => x / sum(v.filter((y) => y >= x)));

/** Per-layer scores of each group's units, p = 1 or 2. Group 0: A rows 0..2, D cols 0..2. Group 1: A rows 3..5, B rows, B cols, D cols 3+k and 6+k. */
function layers(group: 0 | 1, p: number): number[][] {
  const k3 = [0, 1, 2];
  if (group === 0) return [k3.map((k) => outNorm(WA, k, p)), k3.map((k) => inNorm(WD, k, p))];
  return [
    k3.map((k) => outNorm(WA, 3 + k, p)),
    k3.map((k) => outNorm(WB, k, p)),
    k3.map((k) => inNorm(WB, k, p)),
    k3.map((k) => inNorm(WD, 3 + k, p) + inNorm(WD, 6 + k, p)),
  ];
}

function expected(method: ImportanceMethod, group: 0 | 1, how: GroupReduction): number[] {
  switch (method) {
    case 'l1':
      return byMean(reduce(layers(group, 1), how));
    case 'l2':
      return byMean(reduce(layers(group, 2), how));
    case 'lamp':
      return lampOf(reduce(layers(group, 2), how));
    case 'group_norm': {
      const norms = reduce(layers(group, 2), 'sum').map(Math.sqrt);
      return norms.map((x) => x / Math.max(...norms));
    }
    case 'fpgm': {
      const k3 = [0, 1, 2];
      const ls = group === 0 ? [k3.map((k) => fpgm(WA, k))] : [k3.map((k) => fpgm(WA, 3 + k)), k3.map((k) => fpgm(WB, k))];
      return byMean(reduce(ls, how));
    }
    default:
      throw new Error(method);
  }
}

/** Units in the order they are pruned: lowest score first. */
const order = (v: ArrayLike<number>) => [...Array.from(v).keys()].sort((a, b) => v[a] - v[b]);

function expectScores(actual: Float64Array, want: number[]) {
  expect(actual.length).toBe(want.length);
  want.forEach((w, i) => expect(actual[i]).toBeCloseTo(w, 10));
}

describe('importance criteria match their published definitions', () => {
  const { index, names } = buildNet();

  it('the fixture has the two coupled groups described above, with the right channel offsets', () => {
    expect(index.groups.length).toBe(2);
    const [g0, g1] = index.groups;
    expect(g0.producers.map((c) => c.weight)).toEqual(['WA']);
    expect(g0.consumers.map((c) => c.weight)).toEqual(['WD']);
    expect(g1.producers.map((c) => c.weight).sort()).toEqual(['WA', 'WB']);
    expect(g1.consumers.map((c) => c.weight).sort()).toEqual(['WB', 'WD']);
    expect(g1.values.find((v) => v.name === names.cat)?.perUnit).toBe(2);
  });

  const methods = ['l1', 'l2', 'fpgm', 'lamp', 'group_norm'] as const;
  for (const method of methods) {
    for (const how of ['mean', 'sum', 'max'] as const) {
      if (method === 'group_norm' && how !== 'mean') continue; // group_norm always sums squares over the group
      it(`${method}, ${how} reduction: scores and ranking from the definition`, () => {
        for (const g of [0, 1] as const) {
          const got = groupImportance(index, index.groups[g], { method, reduction: how });
          const want = expected(method, g, how);
          expectScores(got, want);
          expect(order(got)).toEqual(order(want));
        }
      });
    }
  }

  it('hand-worked l2 scores of group 1 (mean reduction) and the unit it prunes first', () => {
    // Σw² per layer, units k = 0, 1, 2:
    //   A rows 3..5: 0.5625, 2.25, 0.375      B rows: 16.5, 16.3125, 0.375
    //   B cols:      16.3125, 16.3125, 0.5625 D cols 3+k and 6+k: 5 + 0.3125, 0.125 + 0.3125, 0.5 + 5
    // mean over 4 layers: 9.671875, 8.828125, 1.703125; their mean 6.734375
    const got = groupImportance(index, index.groups[1], { method: 'l2', reduction: 'mean' });
    expectScores(got, [9.671875 / 6.734375, 8.828125 / 6.734375, 1.703125 / 6.734375]);
    // Normalising each layer by its mean before reducing would rank unit 1
    // (A's big row 4) above unit 0; TP's definition lets B's weights decide.
    const perLayerFirst = reduce(layers(1, 2).map(byMean), 'mean');
    expect(order(perLayerFirst)).toEqual([2, 0, 1]);
    expect(order(got)).toEqual([2, 1, 0]);
    // Pruning one unit of each group removes the least important one.
    const l2 = index.groups.map((g) => groupImportance(index, g, { method: 'l2' }));
    const plan = planFromCounts(index, l2, [1, 1]);
    expect([...plan.removed].sort()).toEqual([index.groups[0].units[order(l2[0])[0]], index.groups[1].units[2]].sort());
  });

  it('mean and max reductions rank group 1 differently, and mean equals sum once normalised', () => {
    const mean = groupImportance(index, index.groups[1], { method: 'l1', reduction: 'mean' });
    const sumR = groupImportance(index, index.groups[1], { method: 'l1', reduction: 'sum' });
    const max = groupImportance(index, index.groups[1], { method: 'l1', reduction: 'max' });
    // TP's mean normalizer cancels the 1/layers of the mean reduction.
    expectScores(mean, Array.from(sumR));
    expect(Array.from(max)).not.toEqual(Array.from(mean));
  });

  it('reduceLayers: TP reduction of raw per-layer scores', () => {
    const ls = [Float64Array.from([1, 4]), Float64Array.from([3, 2])];
    expect(Array.from(reduceLayers(ls, 2, 'sum'))).toEqual([4, 6]);
    expect(Array.from(reduceLayers(ls, 2, 'mean'))).toEqual([2, 3]);
    expect(Array.from(reduceLayers(ls, 2, 'max'))).toEqual([3, 4]);
  });

  it('normalisation: every mean-normalised criterion has group mean 1, group_norm has max 1, lamp gives its top unit 1', () => {
    for (const g of index.groups) {
      for (const method of ['l1', 'l2', 'fpgm'] as const) expect(mean(Array.from(groupImportance(index, g, { method })))).toBeCloseTo(1, 12);
      expect(Math.max(...groupImportance(index, g, { method: 'group_norm' }))).toBeCloseTo(1, 12);
      expect(Math.max(...groupImportance(index, g, { method: 'lamp' }))).toBeCloseTo(1, 12);
    }
  });

  it('random: seeded uniform draws in [0, 1), one stream per group and seed', () => {
    for (const g of index.groups) {
      const rand = mulberry32(3 * 7919 + g.id);
      const want = g.units.map(() => rand());
      expectScores(groupImportance(index, g, { method: 'random', seed: 3 }), want);
      for (const x of want) expect(x >= 0 && x < 1).toBe(true);
    }
    expect(Array.from(groupImportance(index, index.groups[0], { method: 'random', seed: 4 }))).not.toEqual(
      Array.from(groupImportance(index, index.groups[0], { method: 'random', seed: 3 })),
    );
  });

  // Fixed activation statistics on three of group 1's tensors: q (3 channels),
  // r = q + SiLU(B q) (3 channels) and the concat (units at 3+k and 6+k).
  const positive = { q: [0.5, 0.25, 0.75], r: [0.5, 0.125, 1], cat: [0, 0, 0, 0.25, 0.5, 0.5, 0.5, 0.25, 0.75] };
  const meanAbs = { q: [0.5, 2, 1], r: [1, 3, 0.5], cat: [9, 9, 9, 0.25, 1, 0.5, 2, 0.5, 0.25] };
  const activity = new Map<string, ChannelActivity>(
    (['q', 'r', 'cat'] as const).map((k) => [names[k], { positive: Float64Array.from(positive[k]), meanAbs: Float64Array.from(meanAbs[k]) }]),
  );
  const actLayers = (stat: typeof positive) => [stat.q, stat.r, [0, 1, 2].map((k) => stat.cat[3 + k] + stat.cat[6 + k])];

  for (const how of ['mean', 'sum', 'max'] as const) {
    it(`apoz, ${how} reduction: 1 − (fraction of positions ≤ 0), reduced over the group's tensors and mean-normalised`, () => {
      // APoZ (Hu et al. 2016) is the fraction of zeros after ReLU; with SiLU, x ≤ 0. Higher APoZ = less important.
      const want = byMean(reduce(actLayers(positive), how));
      const got = groupImportance(index, index.groups[1], { method: 'apoz', reduction: how, activity });
      expectScores(got, want);
      expect(order(got)).toEqual(order(want));
    });
    it(`mean_act, ${how} reduction: mean |x|, reduced over the group's tensors and mean-normalised`, () => {
      const want = byMean(reduce(actLayers(meanAbs), how));
      const got = groupImportance(index, index.groups[1], { method: 'mean_act', reduction: how, activity });
      expectScores(got, want);
      expect(order(got)).toEqual(order(want));
    });
  }

  it('apoz by hand: unit 1 (APoZ 0.75 on q, 0.875 on r) goes first', () => {
    // 1 − APoZ summed: unit 0: 0.5 + 0.5 + (0.25 + 0.5) = 1.75; unit 1: 0.25 + 0.125 + (0.5 + 0.25) = 1.125; unit 2: 0.75 + 1 + (0.5 + 0.75) = 3
    const got = groupImportance(index, index.groups[1], { method: 'apoz', reduction: 'sum', activity });
    const m = (1.75 + 1.125 + 3) / 3;
    expectScores(got, [1.75 / m, 1.125 / m, 3 / m]);
    expect(order(got)).toEqual([1, 0, 2]);
  });
});
