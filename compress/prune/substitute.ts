// Recovery without training by linear channel substitution: every removed
// input channel of a consumer conv is regressed on the kept channels of the
// same tensor, x_r ≈ P·x_k + q (ridge toward P = 0, strength picked by
// leave-one-image-out CV), and folded into the consumer: W_k += W_r·P at every
// kernel tap, b += Σ W_r·q. With P = 0 it is plain bias compensation, which is
// what runs when there are no calibration images (q then comes from
// estimateChannelMeans).
import ort from 'onnxruntime-node';
import { floatTensor, numel, type Model, type Node } from '../onnx/ir.js';
import { constValue, producers } from '../onnx/graph.js';
import { createSession, withExtraOutputs } from '../onnx/session.js';
import { toFloat32 } from '../onnx/tensor.js';
import { RidgeStats } from '../linalg/ridge.js';
import { zeros, type Matrix } from '../linalg/matrix.js';
import type { DependencyGraph } from './dependency.js';
import { keptChannels, writeConvParameters } from './surgery.js';
import type { SampledActivations } from './activations.js';

export interface SubstitutionReport {
  /** Tensors whose removed channels were substituted. */
  tensors: number;
  /** Consumer convs whose weights changed. */
  convs: number;
  /** Ridge strength chosen per tensor (empty for bias compensation). */
  lambdas: number[];
}

/** Tensors that lose channels and feed at least one dense/grouped conv: what recovery works on. */
export function substitutionTargets(dep: DependencyGraph, removed: ReadonlySet<number>): string[] {
  const kept = keptChannels(dep, removed);
  const fed = new Set(dep.convs.filter((c) => !c.depthwise && c.group === 1).map((c) => c.input));
  return [...kept.keys()].filter((name) => fed.has(name) && !dep.values.get(name)!.constant);
}

/**
 * Mean of every channel of `names` when each conv's input contribution is
 * taken as zero-mean, i.e. the value the network computes from conv biases
 * alone (after BN folding a conv's bias is its mean pre-activation shift).
 * A rough estimate for bias compensation when no calibration image is given.
 */
export async function estimateChannelMeans(model: Model, names: readonly string[], size: number): Promise<Map<string, Float64Array>> {
  const out = new Map<string, Float64Array>();
  if (!names.length) return out;
  const copy = structuredClone(model);
  const prod = producers(copy.graph);
  for (const n of copy.graph.nodes) {
    if (n.opType !== 'Conv') continue;
    const w = constValue(copy.graph, n.inputs[1], prod);
    if (w) copy.graph.initializers.set(n.inputs[1], floatTensor(n.inputs[1], [...w.dims]));
  }
  const inputName = model.graph.inputs.find((i) => !model.graph.initializers.has(i.name))!.name;
  const session = await createSession(withExtraOutputs(copy, names));
  try {
    const result = (await session.run({ [inputName]: new ort.Tensor('float32', new Float32Array(3 * size * size), [1, 3, size, size]) }, [...names])) as Record<string, ort.Tensor>;
    for (const name of names) {
      const x = result[name].data as Float32Array;
      const c = Number(result[name].dims[1]);
      const hw = x.length / c;
      const mean = new Float64Array(c);
      for (let ch = 0; ch < c; ch++) {
        let s = 0;
        for (let i = 0; i < hw; i++) s += x[ch * hw + i];
        mean[ch] = s / hw;
      }
      out.set(name, mean);
    }
  } finally {
    await session.release();
  }
  return out;
}

/**
 * A coarser grid than RIDGE_GRID: cross-validation cost grows with every
 * strength tried, and these six span the same range (1e4 is plain bias
 * compensation).
 */
export const SUBSTITUTION_GRID = [1e-3, 1e-2, 0.1, 1, 10, 1e4] as const;

/** Ridge fit of removed channels on kept ones from sampled rows, images as CV folds. */
export function fitSubstitution(samples: SampledActivations, keep: Int32Array, drop: Int32Array): { P: Matrix; q: Float64Array; lambda: number } {
  const stats = new RidgeStats(keep.length, drop.length);
  const c = samples.channels;
  samples.rows.forEach((rows, img) => {
    const count = rows.length / c;
    const x = new Float32Array(count * keep.length);
    const y = new Float32Array(count * drop.length);
    for (let r = 0; r < count; r++) {
      const base = r * c;
      for (let i = 0; i < keep.length; i++) x[r * keep.length + i] = rows[base + keep[i]];
      for (let j = 0; j < drop.length; j++) y[r * drop.length + j] = rows[base + drop[j]];
    }
    stats.add(samples.folds[img], x, y, count);
  });
  const { P, q, lambda } = stats.fitCV(SUBSTITUTION_GRID);
  return { P, q, lambda };
}

/**
 * Folds the substitution of every removed input channel into the pruned
 * model's consumer convs (in place). `samples` gives the regression; without
 * it `means` gives plain bias compensation.
 */
export function substituteChannels(
  dep: DependencyGraph,
  removed: ReadonlySet<number>,
  pruned: Model,
  source: { samples: Map<string, SampledActivations> } | { means: Map<string, Float64Array> },
): SubstitutionReport {
  const kept = keptChannels(dep, removed);
  const report: SubstitutionReport = { tensors: 0, convs: 0, lambdas: [] };
  const g = pruned.graph;
  const byOutput = new Map<string, Node>();
  for (const n of g.nodes) byOutput.set(n.outputs[0], n);
  const origProd = producers(dep.model.graph);
  const prod = producers(g);
  for (const name of substitutionTargets(dep, removed)) {
    const keep = kept.get(name)!;
    const channels = dep.values.get(name)!.channels;
    const keepSet = new Set(keep);
    const drop = Int32Array.from({ length: channels }, (_, i) => i).filter((i) => !keepSet.has(i));
    let P: Matrix, q: Float64Array;
    if ('samples' in source) {
      const s = source.samples.get(name);
      if (!s) continue;
      const fit = fitSubstitution(s, keep, drop);
      P = fit.P;
      q = fit.q;
      report.lambdas.push(fit.lambda);
    } else {
      const mean = source.means.get(name);
      if (!mean) continue;
      P = zeros(keep.length, drop.length);
      q = Float64Array.from(drop, (ch) => mean[ch]);
    }
    report.tensors++;
    for (const c of dep.convs) {
      if (c.input !== name || c.group !== 1) continue;
      const node = byOutput.get(c.output)!;
      const W = toFloat32(constValue(dep.model.graph, c.weight, origProd)!);
      const wNew = toFloat32(constValue(g, node.inputs[1], prod)!).slice();
      const [cout, cin] = c.weightDims;
      const taps = numel(c.weightDims.slice(2));
      const keepOut = kept.get(c.output) ?? Int32Array.from({ length: cout }, (_, i) => i);
      const bias = new Float32Array(keepOut.length);
      if (node.inputs[2]) bias.set(toFloat32(constValue(g, node.inputs[2], prod)!));
      const m = drop.length;
      for (let o2 = 0; o2 < keepOut.length; o2++) {
        const o = keepOut[o2];
        for (let t = 0; t < taps; t++) {
          for (let r = 0; r < m; r++) {
            const wr = W[(o * cin + drop[r]) * taps + t];
            if (wr === 0) continue;
            bias[o2] += wr * q[r];
            for (let i = 0; i < keep.length; i++) wNew[(o2 * keep.length + i) * taps + t] += wr * P.data[i * m + r];
          }
        }
      }
      writeConvParameters(g, node, [keepOut.length, keep.length, ...c.weightDims.slice(2)], wNew, bias, 'substituted');
      report.convs++;
    }
  }
  return report;
}
