// Prunable groups from the dependency graph. A unit is one removable channel
// (a component that some Conv produces and nothing blocks); a group is the set
// of units that touch exactly the same tensors the same number of times, so its
// units are interchangeable: same FLOPs per unit, same layers to rank them by.
// For YOLOv8 a C2f block gives a group for the first half of cv1, one for the
// second half chained through the residual adds, one per bottleneck's inner
// conv; SPPF's cv1 is one group that reaches all four concat quarters.
import { numel } from '../onnx/ir.js';
import type { ConvRole, DependencyGraph } from './dependency.js';

export interface GroupValue {
  name: string;
  /** Slots each unit holds in this tensor (4 for SPPF's concat). */
  perUnit: number;
}

export interface PruneGroup {
  id: number;
  name: string;
  /** Component roots, in the channel order of the group's first tensor. */
  units: number[];
  values: GroupValue[];
  /** Convs producing the group's channels. */
  producers: ConvRole[];
  /** Convs reading the group's channels (dense or grouped: their weight columns). */
  consumers: ConvRole[];
}

interface ConvCost {
  role: ConvRole;
  spatial: number;
  kernel: number;
  fixedOut: number;
  fixedIn: number;
  outPerUnit: Map<number, number>;
  inPerUnit: Map<number, number>;
}

export interface GroupIndex {
  dep: DependencyGraph;
  groups: PruneGroup[];
  /** Root → group id, for prunable units only. */
  groupOfRoot: Map<number, number>;
  convCosts: ConvCost[];
}

function shortName(conv: ConvRole): string {
  return (conv.node.name || conv.output).replace(/^\//, '').replace(/\/(conv\/)?Conv$/, '');
}

export function buildGroups(dep: DependencyGraph): GroupIndex {
  const { root, blockedRoots } = dep;
  const produced = new Set<number>();
  for (const c of dep.convs) {
    const v = dep.values.get(c.output)!;
    for (let i = 0; i < v.channels; i++) produced.add(root[v.offset + i]);
  }
  const prunable = (r: number) => produced.has(r) && !blockedRoots.has(r);
  // Signature of a unit: the tensors it touches and how many slots in each.
  const touches = new Map<number, Map<string, number>>();
  const firstSlot = new Map<number, number>();
  for (const v of dep.values.values()) {
    for (let i = 0; i < v.channels; i++) {
      const r = root[v.offset + i];
      if (!prunable(r)) continue;
      let m = touches.get(r);
      if (!m) touches.set(r, (m = new Map()));
      m.set(v.name, (m.get(v.name) ?? 0) + 1);
      if (!firstSlot.has(r) || firstSlot.get(r)! > v.offset + i) firstSlot.set(r, v.offset + i);
    }
  }
  const bySignature = new Map<string, number[]>();
  for (const [r, m] of touches) {
    const key = [...m].map(([n, c]) => `${n}\u0000${c}`).sort().join('\u0001');
    const list = bySignature.get(key);
    if (list) list.push(r);
    else bySignature.set(key, [r]);
  }
  const groups: PruneGroup[] = [];
  const groupOfRoot = new Map<number, number>();
  const ordered = [...bySignature.values()].map((units) => units.sort((a, b) => firstSlot.get(a)! - firstSlot.get(b)!));
  ordered.sort((a, b) => firstSlot.get(a[0])! - firstSlot.get(b[0])!);
  for (const units of ordered) {
    const id = groups.length;
    const m = touches.get(units[0])!;
    const values = [...m].map(([name, perUnit]) => ({ name, perUnit }));
    const names = new Set(values.map((v) => v.name));
    const producers = dep.convs.filter((c) => names.has(c.output));
    const consumers = dep.convs.filter((c) => names.has(c.input) && !c.depthwise);
    for (const u of units) groupOfRoot.set(u, id);
    groups.push({ id, name: producers.map(shortName).join('+'), units, values, producers, consumers });
  }
  // Two groups from one conv (the halves of a C2f cv1) get their channel ranges in the name.
  const seen = new Map<string, number>();
  for (const g of groups) seen.set(g.name, (seen.get(g.name) ?? 0) + 1);
  for (const g of groups) {
    if (seen.get(g.name)! < 2) continue;
    const v = dep.values.get(g.producers[0].output)!;
    const channels = g.units.map((u) => channelsOf(dep, v.name, u)[0]);
    g.name += `[${Math.min(...channels)}:${Math.max(...channels) + 1}]`;
  }
  return { dep, groups, groupOfRoot, convCosts: dep.convs.map((c) => convCost(dep, c, groupOfRoot)) };
}

/** Channel indices of `value` that belong to component `r`. */
export function channelsOf(dep: DependencyGraph, value: string, r: number): number[] {
  const v = dep.values.get(value)!;
  const out: number[] = [];
  for (let i = 0; i < v.channels; i++) if (dep.root[v.offset + i] === r) out.push(i);
  return out;
}

function convCost(dep: DependencyGraph, c: ConvRole, groupOfRoot: Map<number, number>): ConvCost {
  const out = dep.types.get(c.output)?.shape ?? [];
  const spatial = out.slice(2).every((d) => typeof d === 'number') ? numel(out.slice(2) as number[]) : 0;
  const count = (value: string) => {
    const v = dep.values.get(value)!;
    const per = new Map<number, number>();
    let fixed = 0;
    const seen = new Map<number, Set<number>>();
    for (let i = 0; i < v.channels; i++) {
      const r = dep.root[v.offset + i];
      const g = groupOfRoot.get(r);
      if (g === undefined) {
        fixed++;
        continue;
      }
      let s = seen.get(g);
      if (!s) seen.set(g, (s = new Set()));
      s.add(r);
      per.set(g, (per.get(g) ?? 0) + 1);
    }
    // Slots per unit: every unit of a group touches a tensor equally often.
    for (const [g, total] of per) per.set(g, total / seen.get(g)!.size);
    return { fixed, per };
  };
  const o = count(c.output);
  const i = count(c.input);
  return { role: c, spatial, kernel: numel(c.weightDims.slice(2)), fixedOut: o.fixed, fixedIn: i.fixed, outPerUnit: o.per, inPerUnit: i.per };
}

/** Conv FLOPs (2 × MACs, the cost model's convention) with `kept[g]` units left in each group. */
export function convFlops(index: GroupIndex, kept: ArrayLike<number>): number {
  let total = 0;
  for (const c of index.convCosts) {
    let out = c.fixedOut;
    for (const [g, per] of c.outPerUnit) out += per * kept[g];
    let inPerGroup: number;
    if (c.role.depthwise) inPerGroup = 1;
    else {
      let input = c.fixedIn;
      for (const [g, per] of c.inPerUnit) input += per * kept[g];
      inPerGroup = input / c.role.group;
    }
    total += 2 * c.spatial * out * inPerGroup * c.kernel;
  }
  return total;
}
