// Asymmetric data-aware factorization (Zhang et al. 2015): layers are
// factorized wave by wave, each from the patches it actually reads in the
// model as factorized so far (x̂) against the original model's patches (x), so
// every layer also absorbs what the layers before it lost instead of
// compounding it. The ranks come from the allocation; only the factors change.
import type { Model } from '../onnx/ir.js';
import { nodeByName, removeDeadCode } from '../onnx/graph.js';
import type { CalibrationSet } from '../calibration.js';
import { addProductTN } from '../linalg/matrix.js';
import { forEachActivation, type Float32Tensor4 } from '../fit/activations.js';
import { patches, samplePositions } from '../fit/samples.js';
import { patchGeometry, type PatchStatistics } from './input-stats.js';
import { applyFactorization, type RewrittenLayer } from './rewrite.js';
import { waves } from '../fit/waves.js';
import type { ConvTarget, FactorMethod, LayerFactorizer } from './layer.js';

export interface SequentialChoice {
  layer: LayerFactorizer;
  rank: number;
}

/**
 * Rewrites every chosen layer of `out` (a copy of `original`) in place, in
 * waves, with factors fitted asymmetrically; `factorizer` rebuilds a layer
 * from statistics. Returns the rewrites in the order of `choices`.
 */
export async function factorizeSequentially(
  original: Model,
  out: Model,
  method: FactorMethod,
  choices: readonly SequentialChoice[],
  calibration: CalibrationSet,
  factorizer: (t: ConvTarget, stats: PatchStatistics) => LayerFactorizer,
  maxPositions = 1024,
): Promise<RewrittenLayer[]> {
  const inputs = [...new Set(choices.map((c) => c.layer.target.input))];
  const originals: Map<string, Float32Tensor4>[] = [];
  await forEachActivation(original, calibration, inputs, (image, values) => (originals[image] = values));
  const rewritten = new Map<SequentialChoice, RewrittenLayer>();
  const nodeOf = (c: SequentialChoice) => {
    const n = nodeByName(out.graph, c.layer.target.name) ?? out.graph.nodes.find((x) => x.outputs[0] === c.layer.target.name);
    if (!n) throw new Error(`no conv named '${c.layer.target.name}'`);
    return n;
  };
  for (const wave of waves(out.graph, choices, nodeOf)) {
    const acc = wave.map((c, li) => {
      const g = patchGeometry(c.layer.target, method);
      if (!g) throw new Error(`${method} has no data-aware variant`);
      const d = c.layer.target.cin * g.geo.kh * g.geo.kw;
      return { c, li, ...g, d, n: 0, sx: new Float64Array(d), sxh: new Float64Array(d), gram: new Float64Array(d * d), cross: new Float64Array(d * d) };
    });
    await forEachActivation(out, calibration, [...new Set(wave.map((c) => c.layer.target.input))], (image, values) => {
      for (const a of acc) {
        const t = a.c.layer.target;
        const positions = samplePositions(a.positions, maxPositions, 53 + 7919 * a.li + 104729 * image);
        const x = patches(originals[image].get(t.input)!, 0, t.cin, positions, a.geo);
        const xh = patches(values.get(t.input)!, 0, t.cin, positions, a.geo);
        addProductTN(a.gram, xh, xh, positions.length, a.d, a.d, true);
        addProductTN(a.cross, x, xh, positions.length, a.d, a.d);
        for (let s = 0; s < positions.length; s++) {
          for (let i = 0; i < a.d; i++) {
            a.sx[i] += x[s * a.d + i];
            a.sxh[i] += xh[s * a.d + i];
          }
        }
        a.n += positions.length;
      }
    });
    for (const a of acc) {
      const { d, n } = a;
      const mean = a.sxh.map((v) => v / n);
      const originalMean = a.sx.map((v) => v / n);
      const covariance = new Float64Array(d * d);
      const cross = new Float64Array(d * d);
      for (let i = 0; i < d; i++) {
        for (let j = 0; j < d; j++) {
          covariance[i * d + j] = a.gram[Math.min(i, j) * d + Math.max(i, j)] / n - mean[i] * mean[j];
          cross[i * d + j] = a.cross[i * d + j] / n - originalMean[i] * mean[j];
        }
      }
      const layer = factorizer(a.c.layer.target, { d, n, mean, covariance, cross, originalMean });
      rewritten.set(a.c, applyFactorization(out.graph, a.c.layer.target.name, layer.build(a.c.rank)));
    }
    removeDeadCode(out.graph);
  }
  return choices.map((c) => rewritten.get(c)!);
}
