import { describe, expect, it } from 'vitest';
import ort from 'onnxruntime-node';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildYolov8 } from '../../../compress/yolo/builder.js';
import { pruneModel, PruneError } from '../../../compress/prune/prune.js';
import { METHODS } from '../../../compress/prune/importance.js';
import { allowedRemoval } from '../../../compress/prune/allocate.js';
import { allocateBySensitivity } from '../../../compress/sensitivity.js';
import { runModel } from '../../../compress/onnx/session.js';
import { readModelFile } from '../../../compress/onnx/read.js';
import { dequantizeModel } from '../../../compress/onnx/dequantize.js';
import { readLineage } from '../../../compress/lineage.js';
import type { Model } from '../../../compress/onnx/ir.js';
import type { CalibrationSet } from '../../../compress/calibration.js';
import { run } from '../../../cli/prune.js';
import { commandSpec } from '../../helpers/cli.js';
import { sparsify } from '../../../compress/prune/unstructured.js';
import { writeModelFile } from '../../../compress/onnx/write.js';
import { fixture, fixturesSkipReason, haveFixtures } from '../../fixtures.js';
import { imageInput } from './helpers.js';

const PRUNE = commandSpec('prune');

function calibration(size: number, n = 2): CalibrationSet {
  return { files: [], inputs: Array.from({ length: n }, (_, i) => imageInput(size, 3 + i).images.data as Float32Array), size };
}

async function outputDims(model: Model, size: number): Promise<number[]> {
  const out = await runModel(model, imageInput(size));
  const t = out.output0 as ort.Tensor;
  expect(Array.from(t.data as Float32Array).every(Number.isFinite)).toBe(true);
  return [...t.dims];
}

describe('allocation', () => {
  it('rounding keeps more channels, never fewer, and never overrides the budget', () => {
    expect(allowedRemoval(16, 3, 8, 0.9)).toBe(0); // 16 → 13 rounds back up to 16, not down to 8
    expect(allowedRemoval(64, 12, 8, 0.9)).toBe(8);
    expect(allowedRemoval(64, 64, 8, 0.5)).toBe(32);
    expect(allowedRemoval(10, 9, 1, 1)).toBe(9);
  });

  it('spends the saving on the least sensitive units first', () => {
    const units = [
      { levels: [{ saving: 10, loss: 0.5 }, { saving: 20, loss: 0.9 }] },
      { levels: [{ saving: 10, loss: 0.01 }, { saving: 20, loss: 0.05 }] },
      { levels: [{ saving: 10, loss: 0.02 }] },
    ];
    const a = allocateBySensitivity(units, 30);
    expect(a.levels).toEqual([0, 2, 1]);
    expect(a.reached).toBe(true);
    expect(allocateBySensitivity(units, 100).reached).toBe(false);
  });
});

describe.each([['n', 160], ['s', 160]] as const)('pruned yolov8%s (builder, %i px)', (scale, size) => {
  const model = buildYolov8({ scale, imgsz: size });
  for (const method of METHODS) {
    it(`${method} at 0.2 / 0.35 / 0.5 loads in onnxruntime with the output shape unchanged and fewer FLOPs`, async () => {
      const dims = await outputDims(model, size);
      let last = Infinity;
      // importance does not depend on the ratio: score once, prune at every ratio
      let importance: Float64Array[] | undefined;
      for (const ratio of [0.2, 0.35, 0.5]) {
        const { model: pruned, report, importance: scored } = await pruneModel(model, { method, ratio, calibration: method === 'apoz' || method === 'mean_act' ? calibration(size) : undefined, positions: 64, importance });
        importance = scored;
        expect(await outputDims(pruned, size)).toEqual(dims);
        expect(report.flops.after).toBeLessThan(report.flops.before);
        expect(report.flops.after).toBeLessThanOrEqual(last);
        last = report.flops.after;
      }
    });
  }

  it('--flops-cut reaches the cut; global ranking and --ignore are honoured', async () => {
    const { report } = await pruneModel(model, { method: 'l1', flopsCut: 0.3 });
    expect(1 - report.flops.after / report.flops.before).toBeGreaterThanOrEqual(0.3);
    const global = await pruneModel(model, { method: 'lamp', ratio: 0.4, global: true });
    expect(global.report.flops.after).toBeLessThan(global.report.flops.before);
    const ignored = await pruneModel(model, { method: 'l2', ratio: 0.5, ignore: [/model\.2\//] });
    expect(ignored.report.groups.filter((g) => g.name.startsWith('model.2/')).every((g) => g.removed === 0)).toBe(true);
  });
});

describe('recovery', () => {
  it('channel substitution brings the pruned output closer to the original than no recovery; bias compensation needs no images', async () => {
    const size = 160;
    const model = buildYolov8({ scale: 'n', imgsz: size });
    const reference = (await runModel(model, imageInput(size, 3))).output0.data as Float32Array;
    const error = async (m: Model) => {
      const y = (await runModel(m, imageInput(size, 3))).output0.data as Float32Array;
      let e = 0;
      for (let i = 0; i < y.length; i++) e += (y[i] - reference[i]) ** 2;
      return e;
    };
    const calib = calibration(size, 3);
    const plain = await pruneModel(model, { method: 'l1', ratio: 0.3, roundTo: 1 });
    // every tensor substituted (the guard judges on held-back sources, and three synthetic images leave it one source to fit on one side)
    const substituted = await pruneModel(model, { method: 'l1', ratio: 0.3, roundTo: 1, reconstruct: true, calibration: calib, positions: 256, recalibrate: false, substitutionGuard: false });
    expect(substituted.report.recovery.kind).toBe('substitution');
    expect(substituted.report.recovery.convs).toBeGreaterThan(0);
    expect(await error(substituted.model)).toBeLessThan(await error(plain.model));
    const bias = await pruneModel(model, { method: 'l1', ratio: 0.3, roundTo: 1, reconstruct: true });
    expect(bias.report.recovery.kind).toBe('bias');
    expect(bias.report.recovery.tensors).toBeGreaterThan(0);
  });

  it('refuses what it cannot do with a clear error', async () => {
    const model = buildYolov8({ scale: 'n', imgsz: 160 });
    await expect(pruneModel(model, { method: 'apoz', ratio: 0.2 })).rejects.toThrow(PruneError);
    await expect(pruneModel(model, { method: 'l1', ratio: 0.2, sensitivity: true })).rejects.toThrow(/calibration/);
  });
});

describe('explicit removals (a search genome)', () => {
  it('removes exactly the counts asked, the least important units first, with the same recovery and an explicit lineage', async () => {
    const model = buildYolov8({ scale: 'n', imgsz: 64 });
    // The uniform 30% plan's counts, asked explicitly, must give the very same model: same units (importance order), same recovery.
    const uniform = await pruneModel(model, { method: 'l1', ratio: 0.3, reconstruct: true });
    const counts = uniform.report.groups.map((g) => g.removed);
    const explicit = await pruneModel(model, { method: 'l1', removals: counts, reconstruct: true });
    expect(explicit.report.allocation).toBe('explicit');
    expect(explicit.report.groups.map((g) => g.removed)).toEqual(counts);
    expect(explicit.report.recovery).toMatchObject({ kind: 'bias', tensors: uniform.report.recovery.tensors });
    const bytes = (m: Model) => [...m.graph.initializers].map(([name, t]) => `${name}:${Buffer.from((t.data as Float32Array).buffer).toString('base64')}`);
    expect(bytes(explicit.model)).toEqual(bytes(uniform.model));
    // Other counts: one group alone loses its 8 least-l1 units (mean over its convs), nothing else changes.
    const g = explicit.index.groups.findIndex((grp) => grp.units.length >= 16);
    const one = counts.map((_, k) => (k === g ? 8 : 0));
    const single = await pruneModel(model, { method: 'l1', removals: one });
    expect(single.report.groups.map((r) => r.removed)).toEqual(one);
    const order = [...single.importance[g].keys()].sort((a, b) => single.importance[g][a] - single.importance[g][b] || a - b);
    expect([...single.plan.removed].sort()).toEqual(order.slice(0, 8).map((u) => single.index.groups[g].units[u]).sort());
    const step = readLineage(single.model)!.steps.at(-1)!;
    expect(step.method).toBe('prune');
    expect(step.params).toMatchObject({ allocation: 'explicit', removals: one, method: 'l1', reduction: 'mean' });
  });

  it('refuses removals that do not fit the model with one clear line', async () => {
    const model = buildYolov8({ scale: 'n', imgsz: 64 });
    const { index } = await pruneModel(model, { method: 'l1', ratio: 0.1 });
    const zeros = index.groups.map(() => 0);
    await expect(pruneModel(model, { method: 'l1', removals: zeros.slice(1) })).rejects.toThrow(/removals for \d+ groups given, the model has \d+/);
    await expect(pruneModel(model, { method: 'l1', removals: zeros.map((_, k) => (k === 0 ? index.groups[0].units.length : 0)) })).rejects.toThrow(/cannot remove \d+ of its \d+ units/);
    await expect(pruneModel(model, { method: 'l1', removals: zeros, ratio: 0.2 })).rejects.toThrow(/exactly one of ratio, flopsCut and removals/);
  });
});

describe('unstructured sparsity', () => {
  it('zeroes the smallest half of the conv weights, shrinks the compressed file and says it brings no CPU speed', async () => {
    const model = buildYolov8({ scale: 'n', imgsz: 160 });
    const { model: sparse, report } = sparsify(model, 0.5);
    expect(report.zeroed).toBe(Math.floor(report.weights * 0.5));
    expect(report.compressedBytes.after).toBeLessThan(report.compressedBytes.before * 0.8);
    expect(report.note).toMatch(/no speed/);
    expect(await outputDims(sparse, 160)).toEqual(await outputDims(model, 160));
  });
});

describe('edgefit prune', () => {
  it('writes a pruned model carrying its lineage, with a --json report', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'edgefit-prune-'));
    const src = path.join(dir, 'n.onnx');
    writeModelFile(buildYolov8({ scale: 'n', imgsz: 160 }), src);
    const out = path.join(dir, 'pruned.onnx');
    let printed = '';
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((s: string) => ((printed += s), true)) as typeof process.stdout.write;
    try {
      expect(await run([src, '--method', 'l1', '--flops-cut', '0.2', '-o', out, '--json'], PRUNE)).toBe(0);
    } finally {
      process.stdout.write = write;
    }
    const report = JSON.parse(printed) as { flops: { before: number; after: number }; layers: unknown[] };
    expect(report.flops.after).toBeLessThan(report.flops.before * 0.81);
    const lineage = readLineage(readModelFile(out));
    expect(lineage?.steps.at(-1)?.method).toBe('prune');
    expect(readFileSync(out).length).toBeGreaterThan(0);
    await expect(run([src, '--method', 'nope', '--ratio', '0.2', '-o', out], PRUNE)).rejects.toThrow(/--method/);
    await expect(run([src, '--method', 'l1', '-o', out], PRUNE)).rejects.toThrow(/--ratio/);
    await expect(run([src, '--method', 'l1', '--ratio', '0.2', '--views', '4', '-o', out], PRUNE)).rejects.toThrow(/--views needs --calib/);
    await expect(run([src, '--method', 'l1', '--ratio', '0.2', '--no-recalibrate', '-o', out], PRUNE)).rejects.toThrow(/--no-recalibrate only applies with --reconstruct --calib/);
    await expect(run([src, '--method', 'l1', '--ratio', '0.2', '--calib', dir, '--views', '0', '-o', out], PRUNE)).rejects.toThrow(/--views must be an integer in \[1, 8\]/);
  });
});

describe.skipIf(!haveFixtures)(`fixture yolov8n (float graph of the QDQ export) (${fixturesSkipReason})`, () => {
  const qdq = haveFixtures ? readModelFile(fixture('models', 'yolov8n_int8_qdq.onnx')) : undefined;
  let dequantized: Model | undefined;
  const floatGraph = () => (dequantized ??= dequantizeModel(qdq!).model);
  it('a QDQ model is pruned on its dequantized float graph', async () => {
    const { model, report } = await pruneModel(qdq!, { method: 'l1', ratio: 0.2 });
    expect(report.dequantized).toBe(true);
    expect(await outputDims(model, 640)).toEqual([1, 84, 8400]);
  });

  for (const method of METHODS) {
    it(`${method} at 0.2 / 0.35 / 0.5 loads with output [1, 84, 8400]`, async () => {
      const float = floatGraph();
      let importance: Float64Array[] | undefined;
      for (const ratio of [0.2, 0.35, 0.5]) {
        const { model, importance: scored } = await pruneModel(float, { method, ratio, calibration: calibration(640, 1), positions: 64, importance });
        importance = scored;
        expect(await outputDims(model, 640)).toEqual([1, 84, 8400]);
      }
    });
  }
});
