// Depthwise-separable factorization: for every input channel i, the C_out×k²
// slice W[:,i,:,:] is factored by SVD at rank r. The right factors become a
// depthwise k×k conv producing r channels per input channel (groups = C_in,
// the original stride, pads and dilation); the left factors a 1×1 conv
// C_in·r → C_out with the bias. Exact at r = min(C_out, k²).
import { svd, type Svd } from '../linalg/svd.js';
import { balancedFactors } from './svd-split.js';
import { convFlops, energyOf, type ConvTarget, type LayerFactorizer, type RankOption } from './layer.js';

export function dwsFactorizer(t: ConvTarget): LayerFactorizer {
  const { cout, cin, k } = t;
  const kk = k * k;
  const full = Math.min(cout, kk);
  const perChannel: Svd[] = [];
  const kept = new Float64Array(full);
  for (let i = 0; i < cin; i++) {
    const slice = new Float64Array(cout * kk);
    for (let o = 0; o < cout; o++) for (let j = 0; j < kk; j++) slice[o * kk + j] = t.weight[(o * cin + i) * kk + j];
    const s = svd({ rows: cout, cols: kk, data: slice });
    perChannel.push(s);
    let cum = 0;
    for (let r = 0; r < full; r++) {
      if (r < s.S.length) cum += s.S[r] * s.S[r];
      kept[r] += cum;
    }
  }
  const total = energyOf(t.weight);
  const flopsAt = (r: number) => convFlops(t.outHW, cin * r, 1, k, k) + convFlops(t.outHW, cout, cin * r, 1, 1);
  const options: RankOption[] = [];
  for (let r = 1; r <= full && flopsAt(r) < t.flops; r++) options.push({ rank: r, flops: flopsAt(r), energy: total > 0 ? Math.min(1, kept[r - 1] / total) : 1 });
  return {
    target: t,
    method: 'dws',
    options,
    exactRank: full,
    channelRank: false,
    build(rank) {
      const depthwise = new Float32Array(cin * rank * kk);
      const pointwise = new Float32Array(cout * cin * rank);
      perChannel.forEach((s, i) => {
        const { left, right } = balancedFactors(s, rank);
        for (let j = 0; j < rank; j++) {
          for (let p = 0; p < kk; p++) depthwise[(i * rank + j) * kk + p] = right[p * rank + j];
          for (let o = 0; o < cout; o++) pointwise[o * cin * rank + i * rank + j] = left[o * rank + j];
        }
      });
      return {
        convs: [
          { dims: [cin * rank, 1, k, k], weight: depthwise, strides: t.strides, pads: t.pads, dilations: t.dilations, group: cin },
          { dims: [cout, cin * rank, 1, 1], weight: pointwise, bias: t.bias, strides: [1, 1], pads: [0, 0, 0, 0], dilations: [1, 1], group: 1 },
        ],
      };
    },
  };
}
