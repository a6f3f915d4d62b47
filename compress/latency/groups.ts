// Time per channel group (compress/prune/groups.ts): what removing a group's
// channels could save. A conv's time (its block's, op-profile.ts) is split
// among the groups by the share of its channels each group holds, on the
// output side for the convs that produce the group and on the input side for
// the convs that read it. A conv that both reads one group and produces
// another counts in both, so group times add up to more than the model's
// time: they rank groups, they are not a partition.
import type { Model } from '../onnx/ir.js';
import { buildDependencyGraph } from '../prune/dependency.js';
import { buildGroups, type GroupIndex } from '../prune/groups.js';

export interface GroupTime {
  group: string;
  /** Channels (units) in the group. */
  units: number;
  /** Share-weighted time of its producing and reading convs, µs per run. */
  us: number;
  convs: number;
}

/** Time per group from the time per conv node name (µs); convs without a time count 0. */
export function groupTimes(index: GroupIndex, convUs: ReadonlyMap<string, number>): GroupTime[] {
  return index.groups.map((g) => {
    const perUnit = new Map(g.values.map((v) => [v.name, v.perUnit]));
    let us = 0;
    const convs = new Set<string>();
    for (const c of g.producers) {
      const out = c.weightDims[0];
      const t = convUs.get(c.node.name) ?? 0;
      if (out > 0) us += (t * g.units.length * (perUnit.get(c.output) ?? 0)) / out;
      convs.add(c.node.name);
    }
    for (const c of g.consumers) {
      const inChannels = c.weightDims[1] * c.group;
      const t = convUs.get(c.node.name) ?? 0;
      if (inChannels > 0) us += (t * g.units.length * (perUnit.get(c.input) ?? 0)) / inChannels;
      convs.add(c.node.name);
    }
    return { group: g.name, units: g.units.length, us, convs: convs.size };
  });
}

/** Groups of a model and their times; [] when the model has no prunable groups (or its graph cannot be analysed). */
export function modelGroupTimes(model: Model, convUs: ReadonlyMap<string, number>): GroupTime[] {
  let index: GroupIndex;
  try {
    index = buildGroups(buildDependencyGraph(model));
  } catch {
    return [];
  }
  return groupTimes(index, convUs);
}
