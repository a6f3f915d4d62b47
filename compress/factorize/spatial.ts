// Spatial factorization (Jaderberg et al. 2014): a k×k conv becomes a 1×k conv
// (C_in → R) followed by a k×1 conv (R → C_out). With W[o,i,y,x] viewed as the
// (C_out·k)×(C_in·k) matrix M[(o,y),(i,x)], a rank-R SVD M ≈ L·Rᵀ gives
// W[o,i,y,x] ≈ Σ_r L[(o,y),r]·R[(i,x),r]: the right factor is a horizontal
// filter over x, the left a vertical one over y. The horizontal conv takes the
// x stride and pads, the vertical one the y stride and pads, so the pair is
// exact at full rank, stride 2 included.
//
// With patch statistics (data-aware), the SVD is of M whitened by the
// covariance of the horizontal conv's actual inputs, the C_in·k row patches.
import { dataAwareFactorization, weightFactorization } from './data-aware.js';
import type { PatchStatistics } from './input-stats.js';
import { convFlops, type ConvTarget, type LayerFactorizer, type RankOption } from './layer.js';

export function spatialFactorizer(t: ConvTarget, stats?: PatchStatistics): LayerFactorizer {
  const { cout, cin, k } = t;
  const rows = cout * k;
  const cols = cin * k;
  const m = new Float64Array(rows * cols);
  for (let o = 0; o < cout; o++) {
    for (let i = 0; i < cin; i++) {
      for (let y = 0; y < k; y++) {
        for (let x = 0; x < k; x++) m[(o * k + y) * cols + i * k + x] = t.weight[((o * cin + i) * k + y) * k + x];
      }
    }
  }
  const f = stats ? dataAwareFactorization(m, rows, cols, stats) : weightFactorization(m, rows, cols);
  const { full, energy } = f;
  const [hIn] = t.inHW;
  const [hOut, wOut] = t.outHW;
  const flopsAt = (r: number) => convFlops([hIn, wOut], r, cin, 1, k) + convFlops([hOut, wOut], cout, r, k, 1);
  const options: RankOption[] = [];
  for (let r = 1; r <= full && flopsAt(r) < t.flops; r++) options.push({ rank: r, flops: flopsAt(r), energy: energy[r - 1] });
  return {
    target: t,
    method: 'spatial',
    options,
    exactRank: full,
    channelRank: true,
    build(rank) {
      const { left, right, biasShift } = f.factors(rank);
      const horizontal = new Float32Array(rank * cin * k);
      for (let r = 0; r < rank; r++) for (let c = 0; c < cols; c++) horizontal[r * cols + c] = right[c * rank + r];
      const vertical = new Float32Array(cout * rank * k);
      for (let o = 0; o < cout; o++) {
        for (let r = 0; r < rank; r++) for (let y = 0; y < k; y++) vertical[(o * rank + r) * k + y] = left[(o * k + y) * rank + r];
      }
      let bias = t.bias;
      if (biasShift) {
        bias = Float32Array.from({ length: cout }, (_, o) => t.bias?.[o] ?? 0);
        for (let o = 0; o < cout; o++) for (let y = 0; y < k; y++) bias[o] += biasShift[o * k + y];
      }
      const [top, leftPad, bottom, rightPad] = t.pads;
      return {
        convs: [
          { dims: [rank, cin, 1, k], weight: horizontal, strides: [1, t.strides[1]], pads: [0, leftPad, 0, rightPad], dilations: [1, 1], group: 1 },
          { dims: [cout, rank, k, 1], weight: vertical, bias, strides: [t.strides[0], 1], pads: [top, 0, bottom, 0], dilations: [1, 1], group: 1 },
        ],
      };
    },
  };
}
