// Grouped-conv approximation: keep the block-diagonal part of W at G groups
// after permuting channels so the blocks hold the most energy
// (channel-groups.ts); the dropped off-block energy is the reported error.
//
// Design: the permutation lives in the replacement itself, never in other
// layers. Gather(axis 1) puts the input channels in group order, the grouped
// conv runs, and a second Gather restores the original output channel order,
// so every consumer (SiLU, Concat, Split, the next conv) is untouched. A
// Gather is omitted when its order is the identity; at G = 1 both are, and
// the replacement is the original conv, exactly.
import { convFlops, energyOf, type ConvTarget, type Factorization, type LayerFactorizer, type RankOption } from './layer.js';
import { groupChannels, spectralOrder, type ChannelGrouping } from './channel-groups.js';

/** Groups keep at least this many input and output channels: narrower ones keep little energy and vectorize poorly. */
export const MIN_GROUP_CHANNELS = 4;

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

function isIdentity(order: readonly number[]): boolean {
  return order.every((v, i) => v === i);
}

export function groupedFactorizer(t: ConvTarget): LayerFactorizer {
  const { cout, cin, k } = t;
  const kk = k * k;
  const e = new Float64Array(cout * cin);
  for (let j = 0; j < cout * cin; j++) e[j] = energyOf(t.weight.subarray(j * kk, (j + 1) * kk));
  const total = energyOf(t.weight);
  const common = gcd(cout, cin);
  const groupings = new Map<number, ChannelGrouping>();
  const options: RankOption[] = [];
  const order = spectralOrder(e, cout, cin);
  for (let g = 2; g <= Math.min(cin, cout) / MIN_GROUP_CHANNELS; g++) {
    if (common % g !== 0) continue;
    const grouping = groupChannels(e, cout, cin, g, order);
    groupings.set(g, grouping);
    options.push({ rank: g, flops: convFlops(t.outHW, cout, cin / g, k, k), energy: total > 0 ? grouping.kept / total : 1 });
  }
  return {
    target: t,
    method: 'grouped',
    options,
    exactRank: 1,
    channelRank: false,
    build(groups): Factorization {
      if (cin % groups !== 0 || cout % groups !== 0) throw new RangeError(`grouped: ${groups} groups do not divide ${cin}→${cout} channels`);
      const grouping = groupings.get(groups) ?? { inputGroup: new Int32Array(cin), outputGroup: new Int32Array(cout), kept: total };
      const byGroup = (assignment: Int32Array) => Array.from(assignment.keys()).sort((a, b) => assignment[a] - assignment[b] || a - b);
      const inputOrder = byGroup(grouping.inputGroup);
      const outputPerm = byGroup(grouping.outputGroup);
      const cig = cin / groups, cog = cout / groups;
      const weight = new Float32Array(cout * cig * kk);
      for (let op = 0; op < cout; op++) {
        const o = outputPerm[op];
        const g = Math.floor(op / cog);
        for (let l = 0; l < cig; l++) {
          const i = inputOrder[g * cig + l];
          weight.set(t.weight.subarray((o * cin + i) * kk, (o * cin + i + 1) * kk), (op * cig + l) * kk);
        }
      }
      const bias = t.bias ? Float32Array.from(outputPerm, (o) => t.bias![o]) : undefined;
      const outputOrder = new Array<number>(cout);
      outputPerm.forEach((o, op) => (outputOrder[o] = op));
      return {
        convs: [{ dims: [cout, cig, k, k], weight, bias, strides: t.strides, pads: t.pads, dilations: t.dilations, group: groups }],
        ...(isIdentity(inputOrder) ? {} : { inputOrder }),
        ...(isIdentity(outputOrder) ? {} : { outputOrder }),
      };
    },
  };
}
