// Balanced co-clustering of a conv's input and output channels into G equal
// groups so that the block-diagonal part of W (what a grouped conv can keep)
// holds as much of ‖W‖² as possible. Alternating greedy assignment: given the
// input groups, each output channel goes to the group where its energy lies
// (capacity-limited, best pairs first), then the same for the inputs. Two
// starts, the identity blocks and a spectral order of the input channels;
// the best seen is kept, so the result never keeps less than no permutation.
import { svd } from '../linalg/svd.js';

export interface ChannelGrouping {
  /** Group of each input channel. */
  inputGroup: Int32Array;
  /** Group of each output channel. */
  outputGroup: Int32Array;
  /** Σ over kept blocks of E[o,i]. */
  kept: number;
}

/** Capacity-limited greedy assignment of items to groups by descending score. */
function assign(score: Float64Array, items: number, groups: number): Int32Array {
  const cap = items / groups;
  const order = Array.from({ length: items * groups }, (_, j) => j).sort((a, b) => score[b] - score[a]);
  const out = new Int32Array(items).fill(-1);
  const load = new Int32Array(groups);
  let left = items;
  for (const j of order) {
    if (left === 0) break;
    const item = Math.floor(j / groups), g = j % groups;
    if (out[item] >= 0 || load[g] >= cap) continue;
    out[item] = g;
    load[g]++;
    left--;
  }
  return out;
}

function keptEnergy(e: Float64Array, cout: number, cin: number, inG: Int32Array, outG: Int32Array): number {
  let s = 0;
  for (let o = 0; o < cout; o++) for (let i = 0; i < cin; i++) if (outG[o] === inG[i]) s += e[o * cin + i];
  return s;
}

function refine(e: Float64Array, cout: number, cin: number, groups: number, start: Int32Array): ChannelGrouping {
  let inG = start;
  let best: ChannelGrouping | undefined;
  for (let iter = 0; iter < 8; iter++) {
    const outScore = new Float64Array(cout * groups);
    for (let o = 0; o < cout; o++) for (let i = 0; i < cin; i++) outScore[o * groups + inG[i]] += e[o * cin + i];
    const outG = assign(outScore, cout, groups);
    const inScore = new Float64Array(cin * groups);
    for (let o = 0; o < cout; o++) for (let i = 0; i < cin; i++) inScore[i * groups + outG[o]] += e[o * cin + i];
    const kept = keptEnergy(e, cout, cin, inG, outG);
    if (best && kept <= best.kept) break;
    best = { inputGroup: inG, outputGroup: outG, kept };
    inG = assign(inScore, cin, groups);
  }
  return best!;
}

/** Input channels ordered along the second singular vector of √E: channels that load on the same outputs end up adjacent. */
export function spectralOrder(energy: Float64Array, cout: number, cin: number): number[] {
  const s = svd({ rows: cout, cols: cin, data: Float64Array.from(energy, Math.sqrt) });
  const axis = s.V.cols > 1 ? 1 : 0;
  return Array.from({ length: cin }, (_, i) => i).sort((a, b) => s.V.data[a * s.V.cols + axis] - s.V.data[b * s.V.cols + axis]);
}

/** `energy` is E[o,i] = Σ_{y,x} W[o,i,y,x]², cout×cin row-major; G must divide both counts. */
export function groupChannels(energy: Float64Array, cout: number, cin: number, groups: number, order: readonly number[] = spectralOrder(energy, cout, cin)): ChannelGrouping {
  const blocks = Int32Array.from({ length: cin }, (_, i) => Math.floor((i * groups) / cin));
  let best = refine(energy, cout, cin, groups, blocks);
  if (groups > 1) {
    const spectral = new Int32Array(cin);
    order.forEach((ch, pos) => (spectral[ch] = Math.floor((pos * groups) / cin)));
    const other = refine(energy, cout, cin, groups, spectral);
    if (other.kept > best.kept) best = other;
  }
  return best;
}
