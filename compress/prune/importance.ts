// Channel importance, as Torch-Pruning defines it, for every unit of a group.
// Weight criteria score each coupled layer separately (a producer's output
// filter, a consumer's input column), normalise each layer by its mean and
// reduce over layers; group_norm sums squared L2 over all coupled layers;
// lamp rescales by the tail sum (Lee et al. 2021); fpgm scores a filter by its
// distance to the others (He et al. 2019). apoz and mean_act read activations.
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

function reduce(layers: Float64Array[], n: number, reduction: GroupReduction, normalise: boolean): Float64Array {
  const out = new Float64Array(n);
  for (const l of layers) {
    let mean = 0;
    for (const x of l) mean += x / n;
    const scale = normalise && mean > 0 ? 1 / mean : 1;
    for (let i = 0; i < n; i++) {
      const x = l[i] * scale;
      out[i] = reduction === 'max' ? Math.max(out[i], x) : out[i] + x;
    }
  }
  if (reduction === 'mean' && layers.length) for (let i = 0; i < n; i++) out[i] /= layers.length;
  return out;
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
      const total = reduce(layerScores(index, group, 'l2'), n, 'sum', false);
      return total.map(Math.sqrt);
    }
    case 'lamp':
      return lamp(reduce(layerScores(index, group, 'l2'), n, reduction, true));
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
      return reduce(layers, n, reduction, true);
    }
    default:
      return reduce(layerScores(index, group, options.method), n, reduction, true);
  }
}
