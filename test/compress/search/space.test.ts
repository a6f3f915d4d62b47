import { describe, expect, it } from 'vitest';
import { buildYolov8 } from '../../../compress/yolo/builder.js';
import { buildDependencyGraph } from '../../../compress/prune/dependency.js';
import { buildGroups } from '../../../compress/prune/groups.js';
import { allowedRemoval } from '../../../compress/prune/allocate.js';
import { findTargets } from '../../../compress/factorize/targets.js';
import { searchSpace } from '../../../compress/search/space.js';
import { SearchSpaceError } from '../../../compress/search/errors.js';
import type { SensitivityProfile } from '../../../compress/prune/sensitivity-profile.js';

const base = buildYolov8({ scale: 'n', imgsz: 96 });

describe('search space', () => {
  const index = buildGroups(buildDependencyGraph(base));

  it('one gene per prune group, its removal counts [0, 25%, 50%] as measureSensitivity would measure them, and one per 3×3 conv with ≥ 64 channels', () => {
    const space = searchSpace(base, { sizes: [64, 96], precisions: ['fp32', 'int8'] });
    expect(space.baseSize).toBe(96);
    expect(space.sizes).toEqual([96, 64]);
    expect(space.groups.map((g) => g.name)).toEqual(index.groups.map((g) => g.name));
    space.groups.forEach((g, k) => {
      const n = index.groups[k].units.length;
      expect(g.units).toBe(n);
      const expected = [...new Set([0, allowedRemoval(n, Math.floor(n / 4), 8, 0.9), allowedRemoval(n, Math.floor(n / 2), 8, 0.9)])].sort((a, b) => a - b);
      expect(g.removals).toEqual(expected);
    });
    const targets = findTargets(base, 'spatial', 64).targets;
    expect(targets.length).toBeGreaterThan(0);
    expect(space.convs.map((c) => c.name)).toEqual(targets.map((t) => t.name));
    expect(targets.every((t) => t.k === 3 && t.cin >= 64 && t.cout >= 64)).toBe(true);
    expect(space.convs[0].options).toEqual([null, { method: 'spatial', keep: 0.25 }, { method: 'spatial', keep: 0.125 }]);
  });

  it('takes the removal counts of a measured profile, and refuses sizes and profiles that do not fit', () => {
    const profile: SensitivityProfile = { key: 'k', groups: index.groups.map((g, k) => ({ group: g.name, units: g.units.length, levels: k === 0 ? [] : [{ removed: 8, agreement: 0.9, loss: 0.1 } as never] })) };
    const space = searchSpace(base, { sizes: [96], precisions: ['fp32'], pruneProfile: profile, factor: false });
    expect(space.groups[0].removals).toEqual([0]);
    expect(space.groups.slice(1).every((g) => g.removals.join() === (g.units > 8 ? '0,8' : '0'))).toBe(true);
    expect(space.convs).toEqual([]);
    expect(() => searchSpace(base, { sizes: [96, 80], precisions: ['fp32'] })).toThrow(/multiples of 32/);
    expect(() => searchSpace(base, { sizes: [128, 96], precisions: ['fp32'] })).toThrow(/base model's input size 96/);
    expect(() => searchSpace(base, { sizes: [96], precisions: ['fp32'], pruneProfile: { key: 'k', groups: profile.groups.slice(1) } })).toThrow(SearchSpaceError);
  });

  it('with pointwise, 1×1 convs of ≥ 64 channels join as low-rank genes, in graph order with the spatial ones', () => {
    const space = searchSpace(base, { sizes: [96], precisions: ['fp32'], factor: { pointwise: true } });
    const spatial = findTargets(base, 'spatial', 64).targets.map((t) => t.name);
    const pointwise = findTargets(base, 'lowrank', 64, undefined, { pointwise: true }).targets.filter((t) => t.k === 1);
    expect(pointwise.length).toBeGreaterThan(0);
    expect(pointwise.every((t) => Math.min(t.cin, t.cout) >= 64)).toBe(true);
    const order = base.graph.nodes.map((n) => n.name);
    expect(space.convs.map((c) => c.name)).toEqual([...spatial, ...pointwise.map((t) => t.name)].sort((a, b) => order.indexOf(a) - order.indexOf(b)));
    for (const c of space.convs) expect(c.options[1]!.method).toBe(spatial.includes(c.name) ? 'spatial' : 'lowrank');
  });
});
