import { describe, expect, it } from 'vitest';
import ort from 'onnxruntime-node';
import { buildYolov8 } from '../../../compress/yolo/builder.js';
import { buildDependencyGraph } from '../../../compress/prune/dependency.js';
import { buildGroups } from '../../../compress/prune/groups.js';
import { allowedRemoval } from '../../../compress/prune/allocate.js';
import { findTargets } from '../../../compress/factorize/targets.js';
import { readLineage } from '../../../compress/lineage.js';
import { modelInputSize } from '../../../compress/calibration.js';
import { weightFormat } from '../../../compress/onnx/info.js';
import { runModel } from '../../../compress/onnx/session.js';
import { nodeByName } from '../../../compress/onnx/graph.js';
import { syntheticCalibration } from '../../../controller/catalog/ladder.js';
import { searchSpace } from '../../../compress/search/space.js';
import { baseGenome, type Genome } from '../../../compress/search/genome.js';
import { buildGenome, rankFor, type BuildContext } from '../../../compress/search/build.js';
import { SearchSpaceError } from '../../../compress/search/errors.js';
import type { SensitivityProfile } from '../../../compress/prune/sensitivity-profile.js';

const base = buildYolov8({ scale: 'n', imgsz: 96 });
const ctx: BuildContext = { baseSha256: 'b'.repeat(64), calibration: async (size) => syntheticCalibration(size, 2), reconstruct: false };

async function outputDims(model: Parameters<typeof runModel>[0], size: number): Promise<number[]> {
  const out = await runModel(model, { images: new ort.Tensor('float32', syntheticCalibration(size, 1).inputs[0], [1, 3, size, size]) });
  return [...(out.output0 as ort.Tensor).dims];
}

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
});

describe('buildGenome', () => {
  const space = searchSpace(base, { sizes: [96, 64], precisions: ['fp32', 'fp16', 'int8'] });

  it('resize → prune → factorize → int8, each step in the lineage and a last search step with the genome', async () => {
    const g = space.groups.findIndex((x) => x.removals.length > 2);
    const c = 0;
    const genome: Genome = { ...baseGenome(space), size: 64, precision: 'int8', prune: space.groups.map((_, k) => (k === g ? 2 : 0)), factor: space.convs.map((_, k) => (k === c ? 1 : 0)) };
    const model = await buildGenome(base, space, genome, ctx);
    expect(modelInputSize(model)).toBe(64);
    expect(weightFormat(model)).toBe('qdq-int8');
    const lineage = readLineage(model)!;
    expect(lineage.base).toBe(ctx.baseSha256);
    expect(lineage.steps.map((s) => s.method)).toEqual(['resize', 'prune', 'factorize', 'quantize-int8-qdq', 'search']);
    expect(lineage.steps[1].params).toMatchObject({ allocation: 'explicit', removals: space.groups.map((x, k) => (k === g ? x.removals[2] : 0)) });
    expect(lineage.steps.at(-1)!.params).toEqual({ genome, key: `64/int8/${genome.prune.join('')}/${genome.factor.join('')}` });
    // the factorized conv: rank = 1/4 of its full rank min(C_out·3, C_in·3), rounded up to 8
    const t = findTargets(base, 'spatial', 64).targets[c];
    expect(lineage.steps[2].params.ranks).toEqual({ [t.name]: rankFor('spatial', t.cout, t.cin, 3, 0.25) });
    expect(rankFor('spatial', t.cout, t.cin, 3, 0.25)).toBe(Math.ceil((0.25 * 3 * Math.min(t.cout, t.cin)) / 8) * 8);
    expect(nodeByName(model.graph, `${t.name}/factor0`)).toBeDefined();
    expect(await outputDims(model, 64)).toEqual([1, 84, 8 * 8 + 4 * 4 + 2 * 2]); // strides 8, 16, 32 at 64 px
  });

  it('the base genome builds the base model unchanged but for the search step; fp16 converts', async () => {
    const same = await buildGenome(base, space, baseGenome(space), ctx);
    expect(readLineage(same)!.steps.map((s) => s.method)).toEqual(['search']);
    expect([...same.graph.initializers.keys()]).toEqual([...base.graph.initializers.keys()]);
    expect(readLineage(base)).toBeNull(); // the base is not changed in place
    const half = await buildGenome(base, space, { ...baseGenome(space), precision: 'fp16' }, ctx);
    expect(weightFormat(half)).toBe('fp16');
    await expect(buildGenome(base, space, { ...baseGenome(space), size: 32 }, ctx)).rejects.toThrow(/size 32 is not one of 96, 64/);
  });
});
