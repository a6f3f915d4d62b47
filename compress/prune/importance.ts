// Channel importance for every unit of a group, after Torch-Pruning (TP).
// l1, l2 (TP MagnitudeImportance, p = 1 or 2): each coupled layer scores the
// unit Σ|w|^p over its slice (a producer's output filter, a consumer's input
// column), the group reduces those raw per-layer scores (mean, sum or max),
// and only then is the group's vector divided by its mean (TP's 'mean'
// normalizer), so a big-weight layer weighs more in the group, as in TP.
// lamp (TP LAMPImportance, Lee et al. 2021): the same reduction of Σw², then
// each score over the sum of all scores at least as large, no mean normalizer.
// group_norm (TP's group-norm importance, DepGraph, Fang et al. 2023):
// √(Σ over every coupled layer of Σw²), divided by the group's max.
// fpgm (He et al. 2019): a filter's summed Euclidean distance to every other
// filter of its layer, reduced and mean-normalised like l2. Two differences
// from TP's FPGMImportance, kept on purpose: TP measures distances between
// |w|^p (a filter and its negation score alike there) where the paper uses w,
// and TP also scores consumers' input columns, O(C²·K) per consumer here.
// apoz (Hu et al. 2016): 1 − APoZ. The paper counts zeros after ReLU; our nets
// use SiLU, which is never exactly zero, so "zero" is x ≤ 0 (the positions
// ReLU would zero; SiLU(x) ≤ 0 exactly when x ≤ 0), read on every tensor of
// the group. mean_act (Molchanov et al. 2017): mean |x| per channel. Both reduce
// over the group's tensors and are mean-normalised like the weight criteria.
import { constValue, producers } from '../onnx/graph.js';
import { toFloat32 } from '../onnx/tensor.js';
import type { ConvRole } from './dependency.js';
import { channelsOf, type GroupIndex, type PruneGroup } from './groups.js';
import { mulberry32 } from '../random.js';

export const WEIGHT_METHODS = ['l1', 'l2', 'fpgm', 'lamp', 'random', 'group_norm'] as const;
export const ACTIVATION_METHODS = ['apoz', 'mean_act'] as const;
export const METHODS = [...WEIGHT_METHODS, ...ACTIVATION_METHODS] as const;
export type ImportanceMethod = (typeof METHODS)[number];
export const REDUCTIONS = ['mean', 'sum', 'max'] as const;
export type GroupReduction = (typeof REDUCTIONS)[number];
/** Changes whenever a definition below changes which channels go: part of the sensitivity cache's key. */
export const IMPORTANCE_DEFINITION = 'tp-reduce-then-normalise-1';

/** Per-channel activation statistics of one tensor on the calibration images. */
export interface ChannelActivity {
  /** Mean |x| per channel. */
  meanAbs: Float64Array;
  /** Fraction of positions with x > 0 per channel (1 − APoZ). */
  positive: Float64Array;
}

export interface ImportanceOptions {
  method: ImportanceMethod;
  reduction?: GroupReduction;
  seed?: number;
  /** Needed by apoz and mean_act: statistics of the group's tensors. */
  activity?: Map<string, ChannelActivity>;
}

/** One score per layer position: rows (output filters) or columns (input channels) of a conv weight. */
interface LayerView {
  weight: Float32Array;
  rows: number;
  cols: number;
  rowLen: number;
  /** 'out' scores filters; 'in' scores input channels across all filters. */
  side: 'out' | 'in';
}

function view(index: GroupIndex, c: ConvRole, side: 'out' | 'in'): LayerView {
  const g = index.dep.model.graph;
  const weight = toFloat32(constValue(g, c.weight, producers(g))!);
  const [rows, cols] = c.weightDims;
  return { weight, rows, cols, rowLen: weight.length / rows, side };
}

/** Σ|w|^p over a filter or an input column (for grouped convs: the local column). */
function norm(v: LayerView, ch: number, p: number): number {
  let s = 0;
  const k = v.rowLen / v.cols;
  if (v.side === 'out') {
    const base = ch * v.rowLen;
    for (let i = 0; i < v.rowLen; i++) s += p === 1 ? Math.abs(v.weight[base + i]) : v.weight[base + i] * v.weight[base + i];
  } else {
    const col = ch % v.cols;
    for (let r = 0; r < v.rows; r++) {
      const base = r * v.rowLen + col * k;
      for (let i = 0; i < k; i++) s += p === 1 ? Math.abs(v.weight[base + i]) : v.weight[base + i] * v.weight[base + i];
    }
  }
  return s;
}

/** Σ distance of every filter to all the others in the layer, computed once per layer. */
function fpgmScores(v: LayerView): Float64Array {
  const n = v.rows;
  const len = v.rowLen;
  const w = v.weight;
  const sums = new Float64Array(n);
  for (let a = 0; a < n; a++) {
    for (let b = a + 1; b < n; b++) {
      let d = 0;
      for (let i = 0; i < len; i++) {
        const x = w[a * len + i] - w[b * len + i];
        d += x * x;
      }
      const dist = Math.sqrt(d);
      sums[a] += dist;
      sums[b] += dist;
    }
  }
  return sums;
}

function layerScores(index: GroupIndex, group: PruneGroup, method: ImportanceMethod): Float64Array[] {
  const p = method === 'l1' ? 1 : 2;
  const layers: Float64Array[] = [];
  // FPGM ranks filters (He et al. 2019); its pairwise distances over input columns too would cost O(C²·K) per consumer.
  const roles: [ConvRole, 'out' | 'in', string][] = [
    ...group.producers.map((c): [ConvRole, 'out', string] => [c, 'out', c.output]),
    ...(method === 'fpgm' ? [] : group.consumers.map((c): [ConvRole, 'in', string] => [c, 'in', c.input])),
  ];
  for (const [c, side, value] of roles) {
    const v = view(index, c, side);
    const fpgm = method === 'fpgm' ? fpgmScores(v) : undefined;
    const scores = new Float64Array(group.units.length);
    group.units.forEach((u, k) => {
      for (const ch of channelsOf(index.dep, value, u)) scores[k] += fpgm ? fpgm[ch] : norm(v, ch, p);
    });
    layers.push(scores);
  }
  return layers;
}

/**
 * TP's group reduction of raw per-layer scores: sum, mean (the sum over the
 * number of layers) or max. A layer holding several slots of a unit (a
 * consumer of a repeated concat) has already summed them in layerScores.
 */
export function reduceLayers(layers: readonly Float64Array[], n: number, reduction: GroupReduction): Float64Array {
  const out = new Float64Array(n);
  for (const l of layers) for (let i = 0; i < n; i++) out[i] = reduction === 'max' ? Math.max(out[i], l[i]) : out[i] + l[i];
  if (reduction === 'mean' && layers.length) for (let i = 0; i < n; i++) out[i] /= layers.length;
  return out;
}

/** TP's 'mean' normalizer, on the reduced group vector (not per layer). */
export function normaliseByMean(v: Float64Array): Float64Array {
  let mean = 0;
  for (const x of v) mean += x / v.length;
  return mean > 0 ? v.map((x) => x / mean) : v;
}

/** LAMP: each score over the sum of all scores at least as large. */
function lamp(scores: Float64Array): Float64Array {
  const order = [...scores.keys()].sort((a, b) => scores[a] - scores[b]);
  const out = new Float64Array(scores.length);
  let tail = 0;
  for (let k = order.length - 1; k >= 0; k--) {
    tail += scores[order[k]];
    out[order[k]] = tail > 0 ? scores[order[k]] / tail : 0;
  }
  return out;
}

/** Importance of every unit of `group` (higher = keep). */
export function groupImportance(index: GroupIndex, group: PruneGroup, options: ImportanceOptions): Float64Array {
  const n = group.units.length;
  const reduction = options.reduction ?? 'mean';
  switch (options.method) {
    case 'random': {
      const rand = mulberry32((options.seed ?? 0) * 7919 + group.id);
      return Float64Array.from({ length: n }, () => rand());
    }
    case 'group_norm': {
      const norms = reduceLayers(layerScores(index, group, 'l2'), n, 'sum').map(Math.sqrt);
      const max = Math.max(...norms);
      return max > 0 ? norms.map((x) => x / max) : norms;
    }
    case 'lamp':
      return lamp(reduceLayers(layerScores(index, group, 'l2'), n, reduction));
    case 'apoz':
    case 'mean_act': {
      if (!options.activity) throw new Error(`importance '${options.method}' needs activations from calibration images`);
      const layers: Float64Array[] = [];
      for (const v of group.values) {
        const act = options.activity.get(v.name);
        if (!act) continue;
        const stat = options.method === 'apoz' ? act.positive : act.meanAbs;
        layers.push(Float64Array.from(group.units, (u) => channelsOf(index.dep, v.name, u).reduce((s, ch) => s + stat[ch], 0)));
      }
      if (!layers.length) throw new Error(`no activations were collected for group '${group.name}'`);
      return normaliseByMean(reduceLayers(layers, n, reduction));
    }
    default:
      return normaliseByMean(reduceLayers(layerScores(index, group, options.method), n, reduction));
  }
}
