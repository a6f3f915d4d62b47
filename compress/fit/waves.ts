// Layers in waves: a wave holds layers none of which feeds another, so one
// run of the model serves a whole wave of layer-by-layer work (refits,
// asymmetric factorizations that read their inputs from the model as rebuilt so far).
import type { Graph, Node } from '../onnx/ir.js';
import { topologicalOrder } from '../onnx/graph.js';

/** `items` grouped so that each wave only depends on items of earlier waves; `nodeOf` places an item in `g`. */
export function waves<T>(g: Graph, items: readonly T[], nodeOf: (item: T) => Node): T[][] {
  const owner = new Map(items.map((item, i) => [nodeOf(item), i]));
  const upstream = new Map<string, Set<number>>();
  const depth = new Array<number>(items.length).fill(0);
  for (const n of topologicalOrder(g)) {
    const ups = new Set<number>();
    for (const i of n.inputs) for (const u of upstream.get(i) ?? []) ups.add(u);
    const mine = owner.get(n);
    if (mine !== undefined) {
      depth[mine] = Math.max(0, ...[...ups].map((u) => depth[u] + 1));
      ups.add(mine);
    }
    for (const o of n.outputs) upstream.set(o, ups);
  }
  const out: T[][] = [];
  items.forEach((item, i) => (out[depth[i]] ??= []).push(item));
  return out.filter((w) => w && w.length > 0);
}
