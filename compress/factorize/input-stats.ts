// What a data-aware factorization needs to know about a conv's input: the
// mean and covariance of the input patches its factor sees, from calibration
// activations of the original model (sampled positions, one pass over the
// images for all layers).
import type { Model } from '../onnx/ir.js';
import type { CalibrationSet } from '../calibration.js';
import { addProductTN } from '../linalg/matrix.js';
import { forEachActivation } from '../fit/activations.js';
import { patches, samplePositions, type ConvGeometry } from '../fit/samples.js';
import type { ConvTarget, FactorMethod } from './layer.js';

export interface PatchStatistics {
  /** Features per patch (C_in·k for spatial, C_in·k² for lowrank). */
  d: number;
  n: number;
  /** Mean of the patches the factorization will read. */
  mean: Float64Array;
  /** Their centred covariance, d×d row-major. */
  covariance: Float64Array;
  /**
   * Asymmetric statistics, when the factorization reads patches x̂ of a model
   * already factorized upstream but must reproduce the original layer on the
   * original patches x: Cov(x, x̂) (rows x, columns x̂) and the mean of x.
   */
  cross?: Float64Array;
  originalMean?: Float64Array;
}

/**
 * The patch each method's first factor reads: spatial's horizontal conv sees
 * 1×k rows of the input (at the x stride, on every input row); lowrank's k×k
 * conv sees the whole window. dws and grouped work per channel and have no
 * data-aware variant here.
 */
export function patchGeometry(t: ConvTarget, method: FactorMethod): { geo: ConvGeometry; positions: number } | undefined {
  const [top, left, bottom, right] = t.pads;
  if (method === 'spatial') return { geo: { kh: 1, kw: t.k, strides: [1, t.strides[1]], pads: [0, left, 0, right], dilations: [1, 1], outW: t.outHW[1] }, positions: t.inHW[0] * t.outHW[1] };
  if (method === 'lowrank') return { geo: { kh: t.k, kw: t.k, strides: t.strides, pads: [top, left, bottom, right], dilations: t.dilations, outW: t.outHW[1] }, positions: t.outHW[0] * t.outHW[1] };
  return undefined;
}

/** Whether `method` has a data-aware variant (dws and grouped work per channel and have none). */
export const hasDataAwareVariant = (method: FactorMethod): boolean => method === 'spatial' || method === 'lowrank';

/** Patch statistics of every target with a data-aware geometry, keyed by conv name. */
export async function collectPatchStatistics(
  model: Model,
  targets: readonly ConvTarget[],
  method: FactorMethod,
  calibration: CalibrationSet,
  maxPositions = 2048,
): Promise<Map<string, PatchStatistics>> {
  const jobs = targets.flatMap((t) => {
    const g = patchGeometry(t, method);
    if (!g) return [];
    const d = t.cin * g.geo.kh * g.geo.kw;
    return [{ t, ...g, d, sum: new Float64Array(d), gram: new Float64Array(d * d), n: 0 }];
  });
  if (jobs.length === 0) return new Map();
  await forEachActivation(model, calibration, [...new Set(jobs.map((j) => j.t.input))], (image, values) => {
    jobs.forEach((j, li) => {
      const positions = samplePositions(j.positions, maxPositions, 31 + 7919 * li + 104729 * image);
      const x = patches(values.get(j.t.input)!, 0, j.t.cin, positions, j.geo);
      addProductTN(j.gram, x, x, positions.length, j.d, j.d, true);
      for (let s = 0; s < positions.length; s++) for (let i = 0; i < j.d; i++) j.sum[i] += x[s * j.d + i];
      j.n += positions.length;
    });
  });
  return new Map(
    jobs.map((j) => {
      const { d, n } = j;
      const mean = j.sum.map((v) => v / n);
      const covariance = new Float64Array(d * d);
      for (let i = 0; i < d; i++) {
        for (let k = i; k < d; k++) {
          const c = j.gram[i * d + k] / n - mean[i] * mean[k];
          covariance[i * d + k] = c;
          covariance[k * d + i] = c;
        }
      }
      return [j.t.name, { d, n, mean, covariance }];
    }),
  );
}
