// Convs in waves for layer-by-layer recovery: a wave holds convs none of which
// feeds another conv still to be handled, so one run of the model on the
// calibration inputs serves a whole wave.
import type { Graph, Node } from '../onnx/ir.js';
import { topologicalOrder } from '../onnx/graph.js';

/** `jobs` in waves: a job's wave is one past the deepest job upstream of its input. */
export function convWaves<T extends { node: Node }>(g: Graph, jobs: readonly T[]): T[][] {
  const owner = new Map(jobs.map((j, i) => [j.node, i]));
  const depth = new Array<number>(jobs.length).fill(0);
  // for every value: the deepest wave index of a job upstream of it, plus one (0: none)
  const level = new Map<string, number>();
  for (const n of topologicalOrder(g)) {
    let up = 0;
    for (const i of n.inputs) up = Math.max(up, level.get(i) ?? 0);
    const mine = owner.get(n);
    let out = up;
    if (mine !== undefined) {
      depth[mine] = up;
      out = up + 1;
    }
    for (const o of n.outputs) level.set(o, out);
  }
  const out: T[][] = [];
  jobs.forEach((j, i) => (out[depth[i]] ??= []).push(j));
  return out.filter((w) => w && w.length > 0);
}
