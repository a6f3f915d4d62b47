// Where the refit looks: a seeded subset of output positions per image and
// layer, and the receptive-field patches of a conv's input at those positions.
import type { Float32Tensor4 } from './activations.js';

/** Up to `max` distinct indices in [0, n), seeded (a partial Fisher–Yates shuffle). */
export function samplePositions(n: number, max: number, seed: number): Int32Array {
  const idx = Int32Array.from({ length: n }, (_, i) => i);
  const take = Math.min(n, max);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < take; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const j = i + (s % (n - i));
    const t = idx[i];
    idx[i] = idx[j];
    idx[j] = t;
  }
  return idx.slice(0, take).sort();
}

export interface ConvGeometry {
  kh: number;
  kw: number;
  strides: [number, number];
  pads: [number, number, number, number];
  dilations: [number, number];
  outW: number;
}

/**
 * Patches of channels [c0, c0 + channels) of `x` feeding the output positions
 * `positions` (row-major over the output), laid out as the conv weight is:
 * channel, then kernel row, then kernel column. Zero where the window hangs
 * over the padding.
 */
export function patches(x: Float32Tensor4, c0: number, channels: number, positions: Int32Array, geo: ConvGeometry): Float32Array {
  const { kh, kw, strides, pads, dilations, outW } = geo;
  const [, , H, W] = x.dims;
  const d = channels * kh * kw;
  const out = new Float32Array(positions.length * d);
  positions.forEach((p, s) => {
    const oy = Math.floor(p / outW), ox = p % outW;
    const base = s * d;
    for (let c = 0; c < channels; c++) {
      const plane = (c0 + c) * H * W;
      for (let ky = 0; ky < kh; ky++) {
        const iy = oy * strides[0] - pads[0] + ky * dilations[0];
        if (iy < 0 || iy >= H) continue;
        for (let kx = 0; kx < kw; kx++) {
          const ix = ox * strides[1] - pads[1] + kx * dilations[1];
          if (ix < 0 || ix >= W) continue;
          out[base + (c * kh + ky) * kw + kx] = x.data[plane + iy * W + ix];
        }
      }
    }
  });
  return out;
}

/** Channels `channels` (in that order) of `y` at `positions`, one row per position. */
export function gatherChannels(y: Float32Tensor4, channels: readonly number[], positions: Int32Array): Float32Array {
  const [, , H, W] = y.dims;
  const m = channels.length;
  const out = new Float32Array(positions.length * m);
  positions.forEach((p, s) => {
    for (let j = 0; j < m; j++) out[s * m + j] = y.data[channels[j] * H * W + p];
  });
  return out;
}

/** Σ‖y − ȳ‖² over all images' rows of width m. */
export function centredEnergy(ys: readonly Float32Array[], m: number): number {
  const sum = new Float64Array(m);
  let sq = 0, n = 0;
  for (const y of ys) {
    for (let r = 0; r < y.length / m; r++) {
      for (let j = 0; j < m; j++) {
        const v = y[r * m + j];
        sum[j] += v;
        sq += v * v;
      }
      n++;
    }
  }
  let mean = 0;
  for (const s of sum) mean += (s * s) / Math.max(n, 1);
  return Math.max(sq - mean, 1e-30);
}
