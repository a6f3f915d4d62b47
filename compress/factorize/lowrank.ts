// Low-rank factorization: W as the C_out×(C_in·k²) matrix, rank-R SVD, becomes
// a k×k conv C_in → R (the original stride, pads and dilation) followed by a
// 1×1 conv R → C_out that carries the bias.
// With patch statistics the SVD is data-aware over the C_in·k² input patches.
import { dataAwareFactorization, weightFactorization } from './data-aware.js';
import type { PatchStatistics } from './input-stats.js';
import { convFlops, type ConvTarget, type LayerFactorizer, type RankOption } from './layer.js';

export function lowrankFactorizer(t: ConvTarget, stats?: PatchStatistics): LayerFactorizer {
  const { cout, cin, k } = t;
  const cols = cin * k * k;
  const weight = Float64Array.from(t.weight);
  const f = stats ? dataAwareFactorization(weight, cout, cols, stats) : weightFactorization(weight, cout, cols);
  const { full, energy } = f;
  const flopsAt = (r: number) => convFlops(t.outHW, r, cin, k, k) + convFlops(t.outHW, cout, r, 1, 1);
  const options: RankOption[] = [];
  for (let r = 1; r <= full && flopsAt(r) < t.flops; r++) options.push({ rank: r, flops: flopsAt(r), energy: energy[r - 1] });
  return {
    target: t,
    method: 'lowrank',
    options,
    exactRank: full,
    channelRank: true,
    build(rank) {
      const { left, right, biasShift } = f.factors(rank);
      const bias = biasShift ? Float32Array.from({ length: cout }, (_, o) => (t.bias?.[o] ?? 0) + biasShift[o]) : t.bias;
      const spatialPart = new Float32Array(rank * cols);
      for (let r = 0; r < rank; r++) for (let c = 0; c < cols; c++) spatialPart[r * cols + c] = right[c * rank + r];
      return {
        convs: [
          { dims: [rank, cin, k, k], weight: spatialPart, strides: t.strides, pads: t.pads, dilations: t.dilations, group: 1 },
          { dims: [cout, rank, 1, 1], weight: Float32Array.from(left), bias, strides: [1, 1], pads: [0, 0, 0, 0], dilations: [1, 1], group: 1 },
        ],
      };
    },
  };
}
