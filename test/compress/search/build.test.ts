import { describe, expect, it } from 'vitest';
import ort from 'onnxruntime-node';
import { buildYolov8 } from '../../../compress/yolo/builder.js';
import { findTargets } from '../../../compress/factorize/targets.js';
import { readLineage } from '../../../compress/lineage.js';
import { modelInputSize } from '../../../compress/calibration.js';
import { weightFormat } from '../../../compress/onnx/info.js';
import { runModel } from '../../../compress/onnx/session.js';
import { nodeByName } from '../../../compress/onnx/graph.js';
import type { Model } from '../../../compress/onnx/ir.js';
import { nodeShapes, type NodeShape } from '../../../compress/latency/features.js';
import { mulberry32 } from '../../../compress/random.js';
import { syntheticCalibration } from '../../../controller/catalog/ladder.js';
import { searchSpace } from '../../../compress/search/space.js';
import { baseGenome, genomeProblemParts, type Genome } from '../../../compress/search/genome.js';
import { buildGenome, rankFor, type BuildContext } from '../../../compress/search/build.js';
import { genomeShapes, shapeContext } from '../../../compress/search/shapes.js';
import { hoistPointwiseConvs } from '../../../compress/onnx/upsample-pointwise.js';

// A builder yolov8n at 96 px, searched at 96 and 64 px: small enough to build a handful of candidates in a test.
const base = buildYolov8({ scale: 'n', imgsz: 96 });
const calibration = async (size: number) => syntheticCalibration(size, 2);
const ctx: BuildContext = { baseSha256: 'b'.repeat(64), calibration, reconstruct: false };
const space = searchSpace(base, { sizes: [96, 64], precisions: ['fp32', 'fp16', 'int8'], factor: { pointwise: true } });
const methodOf = (k: number) => space.convs[k].options[1]!.method;
const line = (s: NodeShape) => `${s.node} ${s.op} ${s.kinds.join(',')} [${s.x.join(', ')}]`;

async function outputDims(model: Model, size: number): Promise<number[]> {
  const out = await runModel(model, { images: new ort.Tensor('float32', syntheticCalibration(size, 1).inputs[0], [1, 3, size, size]) });
  return [...(out.output0 as ort.Tensor).dims];
}

describe('buildGenome and genomeShapes (builder yolov8n, 96 → 64 px)', () => {
  it('builds resize → prune → factorize → int8 with each step in the lineage and a last search step with the genome', async () => {
    const g = space.groups.findIndex((x) => x.removals.length > 2);
    const c = space.convs.findIndex((_, k) => methodOf(k) === 'spatial');
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
    const t = findTargets(base, 'spatial', 64).targets.find((x) => x.name === space.convs[c].name)!;
    const rank = Math.ceil((0.25 * 3 * Math.min(t.cout, t.cin)) / 8) * 8;
    expect(rankFor('spatial', t.cout, t.cin, 3, 0.25)).toBe(rank);
    expect(lineage.steps[2].params.ranks).toEqual({ [t.name]: rank });
    expect(nodeByName(model.graph, `${t.name}/factor0`)).toBeDefined();
    expect(await outputDims(model, 64)).toEqual([1, 84, 8 * 8 + 4 * 4 + 2 * 2]); // strides 8, 16, 32 at 64 px
  });

  it('the base genome is the base model but for the search step; the base is not changed; a genome of another space is refused', async () => {
    const same = await buildGenome(base, space, baseGenome(space), ctx);
    expect(readLineage(same)!.steps.map((s) => s.method)).toEqual(['search']);
    expect([...same.graph.initializers.keys()]).toEqual([...base.graph.initializers.keys()]);
    expect(readLineage(base)).toBeNull();
    await expect(buildGenome(base, space, { ...baseGenome(space), size: 32 }, ctx)).rejects.toThrow(/size 32 is not one of 96, 64/);
  });

  it('genomeShapes equals nodeShapes of the built candidate, node for node and in order, at every precision', async () => {
    const shapes = await shapeContext(base, space, calibration);
    expect(genomeShapes(shapes, baseGenome(space)).map(line)).toEqual(nodeShapes(base).map(line));
    const ops = genomeProblemParts(space);
    const rng = mulberry32(21);
    const genomes: Genome[] = [];
    for (let i = 0; i < 5; i++) {
      const g = { ...ops.random(rng), precision: space.precisions[i % 3] };
      // at most three factorized convs per candidate: each costs an SVD in the build, and the shapes treat every conv alike
      let kept = 0;
      g.factor = g.factor.map((f) => (f > 0 && kept++ < 3 ? f : 0));
      genomes.push(g);
    }
    genomes.push({ ...genomes[0], precision: 'int8', size: 96 });
    // every group at its hardest cut (about half), a 64-channel and a ≥ 128-channel spatial conv and a 1×1 low-rank one factorized: the first falls below 64 channels and stays whole
    const targets = findTargets(base, 'spatial', 64).targets;
    const index = (name: string) => space.convs.findIndex((x) => x.name === name);
    const pair = [targets.find((t) => Math.min(t.cin, t.cout) === 64)!, targets.find((t) => Math.min(t.cin, t.cout) >= 128)!].map((t) => index(t.name));
    const wide1x1 = findTargets(base, 'lowrank', 64, undefined, { pointwise: true }).targets.find((t) => t.k === 1 && Math.min(t.cin, t.cout) >= 128)!;
    const pointwise = index(wide1x1.name);
    genomes.push({ size: 64, precision: 'int8', prune: space.groups.map((g) => g.removals.length - 1), factor: space.convs.map((_, k) => (pair.includes(k) ? 1 : k === pointwise ? 2 : 0)) });
    // int8 splits the neck's two 1x1 convs over an upsample's Concat (hoistPointwise): one left whole, the other factorized low-rank, its first factor split instead
    const split = hoistPointwiseConvs(base).rewritten.map(index);
    expect(split.every((k) => k >= 0 && methodOf(k) === 'lowrank')).toBe(true);
    genomes.push({ size: 64, precision: 'int8', prune: space.groups.map(() => 0), factor: space.convs.map((_, k) => (k === split[1] ? 1 : 0)) });
    for (const genome of genomes) {
      const built = nodeShapes(await buildGenome(base, space, genome, ctx));
      expect(genomeShapes(shapes, genome).map(line), JSON.stringify(genome)).toEqual(built.map(line));
    }
    const splitShapes = genomeShapes(shapes, genomes.at(-1)!).map((n) => n.node);
    expect(split.map((k) => [`${space.convs[k].name}_up0`, `${space.convs[k].name}/factor0_up0`].map((n) => splitShapes.includes(n)))).toEqual([[true, false], [false, true]]);
    const last = genomeShapes(shapes, genomes.at(-2)!);
    expect(pair.map((k) => last.some((n) => n.node === `${space.convs[k].name}/factor0`))).toEqual([false, true]);
    expect(methodOf(pointwise)).toBe('lowrank');
    expect(last.filter((n) => n.op === 'Conv' && n.node.startsWith(`${space.convs[pointwise].name}/factor`)).map((n) => n.kinds[0])).toEqual(['Conv/int8/1x1', 'Conv/int8/1x1']);
    expect(genomes.some((g) => g.factor.some((f) => f > 0) && g.prune.some((p) => p > 0))).toBe(true);
    // the search's budget: well under a millisecond per genome on a quiet machine (printed, not asserted: the machine is shared)
    const draws = Array.from({ length: 300 }, (_, i) => ({ ...ops.random(rng), precision: space.precisions[i % 3] }));
    const t0 = performance.now();
    for (const g of draws) genomeShapes(shapes, g);
    console.log(`genomeShapes: ${((performance.now() - t0) / draws.length).toFixed(3)} ms per genome (fp32/fp16/int8 mixed)`);
  });

  it('shapeContext refuses a space it cannot template with one clear line', async () => {
    const mixed = { ...space, convs: space.convs.map((c, k) => (k === 0 ? { ...c, options: [null, { method: 'spatial' as const, keep: 0.25 }, { method: 'lowrank' as const, keep: 0.25 }] } : c)) };
    await expect(shapeContext(base, mixed, calibration)).rejects.toThrow(/one factorization method per conv/);
    const foreign = { ...space, convs: [{ name: '/nowhere/Conv', options: [null, { method: 'spatial' as const, keep: 0.25 }] }] };
    await expect(shapeContext(base, foreign, calibration)).rejects.toThrow(/not a factorizable conv of this model/);
  });
});
