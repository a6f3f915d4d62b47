// Removes channels from a copy of the model: conv weight rows and columns,
// biases, per-channel constants, split sizes, slice bounds and resize sizes.
// Everything else in the graph is left exactly as it was.
import { floatTensor, int64Tensor, numel, type Graph, type Model, type Node, type Tensor } from '../onnx/ir.js';
import { constValue, producers, removeDeadCode, uniqueName } from '../onnx/graph.js';
import { opsetVersion } from '../onnx/shapes.js';
import { allocate, toFloat32, toNumbers } from '../onnx/tensor.js';
import { clampSlice, sliceSpec, splitSizes, type DependencyGraph } from './dependency.js';

/** Kept channel indices of every tensor that loses some. */
export function keptChannels(dep: DependencyGraph, removed: ReadonlySet<number>): Map<string, Int32Array> {
  const kept = new Map<string, Int32Array>();
  if (removed.size === 0) return kept;
  for (const v of dep.values.values()) {
    const keep: number[] = [];
    for (let i = 0; i < v.channels; i++) if (!removed.has(dep.root[v.offset + i])) keep.push(i);
    if (keep.length === v.channels) continue;
    if (keep.length === 0) throw new Error(`pruning would remove every channel of '${v.name}'`);
    kept.set(v.name, Int32Array.from(keep));
  }
  return kept;
}

/** Takes indices `keep` along `axis` of a tensor (any numeric type). */
export function takeAxis(t: Tensor, axis: number, keep: Int32Array, name = t.name): Tensor {
  const dims = [...t.dims];
  const outer = numel(dims.slice(0, axis));
  const inner = numel(dims.slice(axis + 1));
  const n = dims[axis];
  dims[axis] = keep.length;
  const src = t.data;
  if (Array.isArray(src)) throw new Error(`cannot slice string tensor '${t.name}'`);
  const out = allocate(t.dataType, outer * keep.length * inner) as typeof src;
  for (let o = 0; o < outer; o++) {
    for (let k = 0; k < keep.length; k++) {
      const from = (o * n + keep[k]) * inner;
      (out as Float32Array).set((src as Float32Array).subarray(from, from + inner), (o * keep.length + k) * inner);
    }
  }
  return { name, dataType: t.dataType, dims, data: out };
}

function setConst(g: Graph, name: string, t: Tensor, prod: Map<string, Node>): void {
  const p = prod.get(name);
  if (p?.opType === 'Constant') p.attributes.set('value', { type: 'tensor', value: { ...t, name } });
  else g.initializers.set(name, { ...t, name });
}

/**
 * Sets the weight and bias of conv `n` (a bias input is added if it had
 * none). Each is written under its own name when that is an initializer no
 * other node reads, else under a fresh name ending in `_${suffix}`: a Constant
 * node's output or a tensor another conv shares keeps its values.
 */
export function writeConvParameters(g: Graph, n: Node, dims: readonly number[], weight: Float32Array, bias: Float32Array, suffix: string): void {
  const own = (index: number, fresh: string) => {
    const name = n.inputs[index];
    const shared = (m: Node) => m !== n && m.inputs.includes(name);
    return name && g.initializers.has(name) && !g.nodes.some(shared) ? name : uniqueName(g, fresh);
  };
  const wName = own(1, `${n.inputs[1]}_${suffix}`);
  g.initializers.set(wName, floatTensor(wName, [...dims], weight));
  n.inputs[1] = wName;
  const bName = own(2, n.inputs[2] ? `${n.inputs[2]}_${suffix}` : `${wName}_bias`);
  g.initializers.set(bName, floatTensor(bName, [dims[0]], bias));
  n.inputs[2] = bName;
}

/** A fresh int64 initializer for a rewritten shape input (shared originals stay untouched). */
function int64Input(g: Graph, base: string, values: number[]): string {
  const name = uniqueName(g, `${base}_pruned`);
  g.initializers.set(name, int64Tensor(name, values));
  return name;
}

/**
 * A pruned copy of `dep.model` with the components in `removed` taken out.
 * An empty set gives an exact copy.
 */
export function applyPruning(dep: DependencyGraph, removed: ReadonlySet<number>): Model {
  const model = structuredClone(dep.model);
  const g = model.graph;
  const kept = keptChannels(dep, removed);
  if (kept.size === 0) return model;
  const index = new Map(dep.model.graph.nodes.map((n, i) => [n, i]));
  const twin = (n: Node) => g.nodes[index.get(n)!];
  const prod = producers(g);
  const uses = new Map<string, number>();
  for (const n of g.nodes) for (const i of n.inputs) uses.set(i, (uses.get(i) ?? 0) + 1);

  for (const c of dep.convs) {
    const keepOut = kept.get(c.output);
    const keepIn = kept.get(c.input);
    if (!keepOut && !keepIn) continue;
    const node = twin(c.node);
    let wt = floatTensor(c.weight, [...c.weightDims], toFloat32(constValue(g, c.weight, prod)!));
    if (keepOut) wt = takeAxis(wt, 0, keepOut);
    if (keepIn && c.depthwise) node.attributes.set('group', { type: 'int', value: keepIn.length });
    else if (keepIn) {
      // Grouped convs lose the same local index in every group (the dependency graph tied them).
      const perGroup = c.weightDims[1];
      const local = c.group > 1 ? keepIn.filter((i) => i < perGroup) : keepIn;
      wt = takeAxis(wt, 1, local);
    }
    const wName = (uses.get(c.weight) ?? 0) > 1 ? uniqueName(g, `${c.weight}_pruned`) : c.weight;
    g.initializers.set(wName, { ...wt, name: wName });
    node.inputs[1] = wName;
    if (c.bias && keepOut) {
      const b = takeAxis(floatTensor(c.bias, [c.weightDims[0]], toFloat32(constValue(g, c.bias, prod)!)), 0, keepOut);
      const bName = (uses.get(c.bias) ?? 0) > 1 ? uniqueName(g, `${c.bias}_pruned`) : c.bias;
      g.initializers.set(bName, { ...b, name: bName });
      node.inputs[2] = bName;
    }
  }

  for (const v of dep.values.values()) {
    const keep = kept.get(v.name);
    if (!keep || !v.constant) continue;
    setConst(g, v.name, takeAxis(constValue(g, v.name, prod)!, v.axis, keep), prod);
  }

  const opset = opsetVersion(model, '');
  const constOf = (name: string) => constValue(g, name, prod);
  for (const e of dep.edits) {
    const node = twin(e.node);
    if (e.kind === 'split') {
      const input = dep.values.get(node.inputs[0])!;
      const sizes = node.outputs.map((o) => kept.get(o)?.length ?? dep.values.get(o)!.channels);
      const old = splitSizes(node, input.channels, constOf)!;
      if (sizes.every((s, i) => s === old[i])) continue;
      if (node.attributes.get('split')?.type === 'ints') node.attributes.set('split', { type: 'ints', value: sizes });
      else if (node.inputs[1]) node.inputs[1] = int64Input(g, node.inputs[1], sizes);
      else if (opset >= 13) node.inputs[1] = int64Input(g, `${node.name || node.outputs[0]}_split`, sizes);
      else node.attributes.set('split', { type: 'ints', value: sizes });
      node.attributes.delete('num_outputs');
    } else if (e.kind === 'slice') {
      const keepIn = kept.get(node.inputs[0]);
      if (!keepIn) continue;
      const rank = dep.types.get(node.inputs[0])!.shape.length;
      const spec = sliceSpec(node, opset, rank, constOf)!;
      const k = spec.axes.indexOf(1);
      const [s, end] = clampSlice(spec.starts[k], spec.ends[k], dep.values.get(node.inputs[0])!.channels);
      let before = 0, inside = 0;
      for (const i of keepIn) {
        if (i < s) before++;
        else if (i < end) inside++;
      }
      const starts = [...spec.starts];
      const ends = [...spec.ends];
      starts[k] = before;
      ends[k] = before + inside;
      if (opset < 10) {
        node.attributes.set('starts', { type: 'ints', value: starts });
        node.attributes.set('ends', { type: 'ints', value: ends });
      } else {
        node.inputs[1] = int64Input(g, node.inputs[1], starts);
        node.inputs[2] = int64Input(g, node.inputs[2], ends);
      }
    } else {
      const keepOut = kept.get(node.outputs[0]);
      if (!keepOut) continue;
      const sizes = toNumbers(constOf(node.inputs[3])!);
      sizes[1] = keepOut.length;
      node.inputs[3] = int64Input(g, node.inputs[3], sizes);
    }
  }

  for (const vi of g.valueInfo) {
    const keep = kept.get(vi.name);
    if (keep && vi.shape && vi.shape.length >= 2) vi.shape[1] = keep.length;
  }
  // Rewritten split sizes and slice bounds leave the originals unread.
  removeDeadCode(g);
  return model;
}

