// Structural questions and edits on a Graph: who produces and who consumes a
// value, a stable topological order, and the small rewrites (replace, remove,
// rename, bypass) that pruning, quantization and dequantization are built from.
import { isDefaultDomain, type Graph, type Node, type Tensor } from './ir.js';

/** Value name → the node that outputs it. Graph inputs and initializers have none. */
export function producers(g: Graph): Map<string, Node> {
  const m = new Map<string, Node>();
  for (const n of g.nodes) for (const o of n.outputs) if (o) m.set(o, n);
  return m;
}

/** Value name → nodes that read it, in graph order, once per node. */
export function consumers(g: Graph): Map<string, Node[]> {
  const m = new Map<string, Node[]>();
  for (const n of g.nodes) {
    for (const i of new Set(n.inputs)) {
      if (!i) continue;
      const list = m.get(i);
      if (list) list.push(n);
      else m.set(i, [n]);
    }
  }
  return m;
}

/** Values a node reads from outside itself, including those its subgraphs capture from the enclosing scope. */
export function nodeReads(n: Node): string[] {
  const reads = n.inputs.filter((i) => i !== '');
  for (const a of n.attributes.values()) {
    const subs = a.type === 'graph' ? [a.value] : a.type === 'graphs' ? a.value : [];
    for (const sub of subs) {
      const local = new Set<string>([...sub.inputs.map((v) => v.name), ...sub.initializers.keys()]);
      for (const sn of sub.nodes) for (const o of sn.outputs) local.add(o);
      for (const sn of sub.nodes) for (const r of nodeReads(sn)) if (!local.has(r)) reads.push(r);
    }
  }
  return reads;
}

/**
 * Nodes in dependency order. Stable: among ready nodes the one earliest in the
 * current list goes first, so an already sorted graph keeps its order exactly.
 * Throws on a cycle.
 */
export function topologicalOrder(g: Graph): Node[] {
  const prod = producers(g);
  const index = new Map(g.nodes.map((n, i) => [n, i]));
  const pending = new Map<Node, number>();
  const dependents = new Map<Node, Node[]>();
  for (const n of g.nodes) {
    const deps = new Set<Node>();
    for (const r of nodeReads(n)) {
      const p = prod.get(r);
      if (p && p !== n) deps.add(p);
    }
    pending.set(n, deps.size);
    for (const d of deps) {
      const list = dependents.get(d);
      if (list) list.push(n);
      else dependents.set(d, [n]);
    }
  }
  // A binary heap on original index keeps the order stable in O(n log n).
  const heap: Node[] = [];
  const less = (a: Node, b: Node) => index.get(a)! < index.get(b)!;
  const push = (n: Node) => {
    heap.push(n);
    for (let i = heap.length - 1; i > 0; ) {
      const p = (i - 1) >> 1;
      if (!less(heap[i], heap[p])) break;
      [heap[i], heap[p]] = [heap[p], heap[i]];
      i = p;
    }
  };
  const pop = (): Node => {
    const top = heap[0];
    const last = heap.pop()!;
    if (heap.length > 0) {
      heap[0] = last;
      for (let i = 0; ; ) {
        const l = 2 * i + 1, r = l + 1;
        let m = i;
        if (l < heap.length && less(heap[l], heap[m])) m = l;
        if (r < heap.length && less(heap[r], heap[m])) m = r;
        if (m === i) break;
        [heap[i], heap[m]] = [heap[m], heap[i]];
        i = m;
      }
    }
    return top;
  };
  for (const n of g.nodes) if (pending.get(n) === 0) push(n);
  const order: Node[] = [];
  while (heap.length) {
    const n = pop();
    order.push(n);
    for (const d of dependents.get(n) ?? []) {
      const left = pending.get(d)! - 1;
      pending.set(d, left);
      if (left === 0) push(d);
    }
  }
  if (order.length !== g.nodes.length) {
    const stuck = g.nodes.find((n) => pending.get(n)! > 0)!;
    throw new Error(`graph '${g.name}' has a cycle through node '${stuck.name || stuck.opType}'`);
  }
  return order;
}

/** Reorders g.nodes in place into topological order. */
export function sortGraph(g: Graph): void {
  g.nodes = topologicalOrder(g);
}

export function findInitializer(g: Graph, name: string): Tensor | undefined {
  return g.initializers.get(name);
}

/** The tensor a value holds when it is fixed at build time: an initializer or a Constant's value. */
export function constValue(g: Graph, name: string, prod: Map<string, Node> = producers(g)): Tensor | undefined {
  const init = g.initializers.get(name);
  if (init && !g.inputs.some((i) => i.name === name)) return init;
  const p = prod.get(name);
  if (p && p.opType === 'Constant' && isDefaultDomain(p.domain)) {
    const v = p.attributes.get('value');
    if (v?.type === 'tensor') return v.value;
  }
  return undefined;
}

export function isConst(g: Graph, name: string, prod?: Map<string, Node>): boolean {
  return constValue(g, name, prod) !== undefined;
}

export function nodeByName(g: Graph, name: string): Node | undefined {
  return g.nodes.find((n) => n.name === name);
}

/** Puts `replacements` where `old` was (keeping order). */
export function replaceNode(g: Graph, old: Node, ...replacements: Node[]): void {
  const i = g.nodes.indexOf(old);
  if (i < 0) throw new Error(`node '${old.name}' is not in graph '${g.name}'`);
  g.nodes.splice(i, 1, ...replacements);
}

export function removeNodes(g: Graph, doomed: Iterable<Node>): void {
  const set = new Set(doomed);
  g.nodes = g.nodes.filter((n) => !set.has(n));
}

/** Makes every reader of `from` (nodes, subgraphs, graph outputs) read `to` instead. */
export function replaceAllUses(g: Graph, from: string, to: string): void {
  for (const n of g.nodes) {
    n.inputs = n.inputs.map((i) => (i === from ? to : i));
    for (const a of n.attributes.values()) {
      const subs = a.type === 'graph' ? [a.value] : a.type === 'graphs' ? a.value : [];
      for (const sub of subs) if (!definesLocally(sub, from)) replaceAllUses(sub, from, to);
    }
  }
  for (const o of g.outputs) if (o.name === from) o.name = to;
}

function definesLocally(g: Graph, name: string): boolean {
  return g.inputs.some((i) => i.name === name) || g.initializers.has(name) || g.nodes.some((n) => n.outputs.includes(name));
}

/** Renames a value everywhere it appears: producer, readers, graph inputs/outputs, value_info, initializer. */
export function renameValue(g: Graph, from: string, to: string): void {
  if (from === to) return;
  for (const n of g.nodes) n.outputs = n.outputs.map((o) => (o === from ? to : o));
  replaceAllUses(g, from, to);
  for (const v of [...g.inputs, ...g.valueInfo]) if (v.name === from) v.name = to;
  const init = g.initializers.get(from);
  if (init) {
    g.initializers.delete(from);
    init.name = to;
    g.initializers.set(to, init);
  }
}

/**
 * Removes a single-path node (its first input flows through to its first
 * output), rewiring readers of the output to its input. When the output is a
 * graph output the input is renamed instead, so the graph's interface keeps
 * its names.
 */
export function bypassNode(g: Graph, n: Node): void {
  const input = n.inputs[0];
  const output = n.outputs[0];
  removeNodes(g, [n]);
  if (g.outputs.some((o) => o.name === output) && !g.inputs.some((i) => i.name === input) && !g.initializers.has(input)) {
    renameValue(g, input, output);
  } else {
    replaceAllUses(g, output, input);
  }
}

/** Drops nodes whose outputs nobody reads, and initializers nobody reads, repeatedly. */
export function removeDeadCode(g: Graph): void {
  const outputs = new Set(g.outputs.map((o) => o.name));
  for (;;) {
    const used = new Set<string>(outputs);
    for (const n of g.nodes) for (const r of nodeReads(n)) used.add(r);
    const before = g.nodes.length;
    g.nodes = g.nodes.filter((n) => n.outputs.some((o) => o && used.has(o)));
    if (g.nodes.length === before) {
      for (const k of [...g.initializers.keys()]) if (!used.has(k)) g.initializers.delete(k);
      g.valueInfo = g.valueInfo.filter((v) => used.has(v.name));
      return;
    }
  }
}

/** A value name not yet used in the graph, built from `base`. */
export function uniqueName(g: Graph, base: string): string {
  const taken = new Set<string>([...g.initializers.keys(), ...g.inputs.map((i) => i.name)]);
  for (const n of g.nodes) {
    for (const o of n.outputs) taken.add(o);
    taken.add(n.name);
  }
  if (!taken.has(base)) return base;
  for (let i = 1; ; i++) if (!taken.has(`${base}_${i}`)) return `${base}_${i}`;
}
