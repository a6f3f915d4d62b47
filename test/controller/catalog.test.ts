import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { PNG } from 'pngjs';
import { syntheticFrame } from '../../agent/serve/frames.js';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ArtifactStore } from '../../controller/artifacts/store.js';
import { loadOrCreateSigningKey } from '../../controller/artifacts/signing.js';
import { Catalog, CatalogError } from '../../controller/catalog/catalog.js';
import { LadderJobs } from '../../controller/catalog/ladder-jobs.js';
import { compressionRecipes, generateLadder, ladderRecipes, sizeByPrecision, syntheticCalibration } from '../../controller/catalog/ladder.js';
import { openDb, type Db } from '../../controller/db.js';
import { modelCost } from '../../compress/cost.js';
import { weightFormat } from '../../compress/onnx/info.js';
import { readModel } from '../../compress/onnx/read.js';
import { quantizeModel } from '../../compress/quantize/quantize.js';
import { writeModel } from '../../compress/onnx/write.js';
import { buildYolov8 } from '../../compress/yolo/builder.js';
import { fixture, fixturesSkipReason, haveFixtures } from '../fixtures.js';
import { captureLogger } from '../helpers/log.js';

describe('model catalog and ladders', () => {
  let dir: string;
  let db: Db;
  let catalog: Catalog;
  let jobs: LadderJobs;

  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'edgefit-catalog-'));
    db = openDb(dir);
    catalog = new Catalog(db, new ArtifactStore(db, dir, loadOrCreateSigningKey(dir)));
    jobs = new LadderJobs(catalog, path.join(dir, 'work'), captureLogger().log);
  });

  afterAll(async () => {
    await jobs.close();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('makes a ladder a list of recipes: the default is 640/512/416/320 × fp32/fp16/int8', () => {
    expect(ladderRecipes('default').map((r) => r.name)).toEqual(['640', '512', '416', '320'].flatMap((s) => [`fp32-${s}`, `fp16-${s}`, `int8-${s}`]));
    expect(ladderRecipes('quick', [160, 96]).map((r) => r.steps.map((s) => s.op).join('+'))).toEqual(['resize', 'resize+int8', 'resize', 'resize+int8']);
  });

  it('builds a synthetic ladder off the request path: signed artifacts, cost, and no accuracy, labelled synthetic', async () => {
    const model = await catalog.addModel(writeModel(buildYolov8({ scale: 'n', imgsz: 128, nc: 4 })), 'yolov8n-synth');
    expect(model).toMatchObject({ synthetic: true, imgsz: 128 });
    expect(await catalog.addModel(writeModel(buildYolov8({ scale: 'n', imgsz: 128, nc: 4 })), 'again')).toMatchObject({ id: model.id });
    const job = jobs.start(model.id, { ladder: 'quick', sizes: [128, 96] });
    expect(job.state).toBe('queued');
    const done = await jobs.wait(job.id);
    expect(done.error).toBeNull();
    expect(done.state).toBe('done');
    const ladder = catalog.candidates(model.id);
    // cheapest first: int8 runs the neck's two 1x1 convs over an upsample before it (hoistPointwise), so it costs fewer FLOPs than fp32 at its size
    expect(ladder.map((c) => c.name)).toEqual(['int8-96', 'fp32-96', 'int8-128', 'fp32-128']);
    for (const c of ladder) {
      expect(c.accuracy).toEqual({ value: null, kind: 'none-synthetic' });
      expect(c.synthetic).toBe(true);
      expect(catalog.artifacts.get(c.sha256)?.ref.signature).toMatch(/=$/);
    }
    expect(ladder.map((c) => c.family)).toEqual(['int8', 'fp32', 'int8', 'fp32']);
    const named = Object.fromEntries(ladder.map((c) => [c.name, c]));
    expect(named['fp32-96'].flops).toBeLessThan(named['fp32-128'].flops);
    expect(named['int8-96'].sizeBytes).toBeLessThan(named['fp32-96'].sizeBytes);
    // The base size needs no resize: that candidate is the base model's own bytes.
    expect(ladder.find((c) => c.name === 'fp32-128')!.sha256).toBe(model.sha256);
  });

  it('builds the ladder of an int8 upload from its dequantized weights: its fp32 candidates are float', async () => {
    const base = (await quantizeModel(buildYolov8({ scale: 'n', imgsz: 96, nc: 4 }), syntheticCalibration(96))).model;
    expect(weightFormat(base)).toBe('qdq-int8');
    const { candidates, skipped } = await generateLadder({ base, baseSha256: 'q'.repeat(64), synthetic: true, recipes: sizeByPrecision([96, 64], ['fp32', 'int8']), outDir: path.join(dir, 'from-int8') });
    expect(skipped).toEqual([]);
    const byName = Object.fromEntries(candidates.map((c) => [c.name, c]));
    for (const name of ['fp32-96', 'fp32-64']) {
      expect(byName[name].family).toBe('fp32');
      expect(weightFormat(readModel(readFileSync(byName[name].file)))).toBe('fp32');
      expect(byName[name].lineage!.steps.map((s) => s.method)).toContain('dequantize');
    }
    for (const name of ['int8-96', 'int8-64']) expect(weightFormat(readModel(readFileSync(byName[name].file)))).toBe('qdq-int8');
  });

  it.skipIf(!haveFixtures)(`keeps a QOperator upload's ladder going: it cannot be dequantized, so only its own recipes fail${haveFixtures ? '' : ` (skipped: ${fixturesSkipReason})`}`, async () => {
    const base = readModel(readFileSync(fixture('models', 'yolov8n_int8_qlinear_broken.onnx')));
    expect(weightFormat(base)).toBe('qoperator-int8');
    const { candidates, skipped } = await generateLadder({ base, baseSha256: 'o'.repeat(64), synthetic: true, recipes: sizeByPrecision([640], ['fp32', 'fp16']), outDir: path.join(dir, 'from-qoperator') });
    expect(candidates.map((c) => c.name)).toEqual(['fp32-640']);
    expect(skipped.map((r) => r.name)).toEqual(['fp16-640']);
  });

  it('puts pruning and factorization in the default ladder only for a real model with calibration images', () => {
    const names = (r: ReturnType<typeof ladderRecipes>) => r.map((x) => x.name);
    expect(names(ladderRecipes('default'))).toHaveLength(12);
    const full = ladderRecipes('default', undefined, { calibrated: true });
    expect(names(full)).toEqual(expect.arrayContaining(['prune25', 'prune50-int8', 'dws30', 'spatial20-int8', 'prune25-512']));
    expect(full.find((r) => r.name === 'spatial20')!.steps).toEqual([{ op: 'factorize', method: 'spatial', flopsCut: 0.2, refit: true }]);
    expect(names(ladderRecipes('quick', undefined, { calibrated: true }))).toHaveLength(8);
  });

  it('builds pruned and factorized candidates (and their int8 and smaller-input variants) with lineage and cost', async () => {
    const base = buildYolov8({ scale: 'n', imgsz: 96, nc: 4 });
    // Generated street-like scenes as calibration images: half calibrate, half would measure (not on synthetic weights).
    const calibDir = path.join(dir, 'calib');
    mkdirSync(calibDir);
    for (let k = 0; k < 4; k++) {
      const frame = syntheticFrame(128, 96, k + 1);
      const png = new PNG({ width: frame.width, height: frame.height });
      for (let i = 0; i < frame.width * frame.height; i++) {
        png.data.set([frame.rgb[3 * i], frame.rgb[3 * i + 1], frame.rgb[3 * i + 2], 255], 4 * i);
      }
      writeFileSync(path.join(calibDir, `scene${k}.png`), PNG.sync.write(png));
    }
    // One of each method and combination kind (the full set takes minutes on two cores).
    const recipes = compressionRecipes(64).filter((r) => ['prune25', 'prune25-int8', 'dws30', 'spatial20', 'prune25-64'].includes(r.name));
    const { candidates, skipped } = await generateLadder({ base, baseSha256: 'b'.repeat(64), synthetic: true, recipes, outDir: path.join(dir, 'compressed'), calibDir });
    expect(skipped).toEqual([]);
    expect(candidates.map((c) => c.name)).toEqual(recipes.map((r) => r.name));
    const baseFlops = modelCost(base).flops;
    for (const c of candidates) {
      // Builder-made weights: never an accuracy figure.
      expect(c.accuracy).toEqual({ value: null, kind: 'none-synthetic' });
      expect(c.flops).toBeLessThan(baseFlops);
      expect(c.parameters).toBeGreaterThan(0);
      expect(c.sizeBytes).toBeGreaterThan(0);
      const methods = c.lineage!.steps.map((s) => s.method);
      expect(c.lineage!.base).toBe('b'.repeat(64));
      expect(methods).toContain(c.name.startsWith('prune') ? 'prune' : 'factorize');
      if (c.name.endsWith('-int8')) expect(c.family).toBe('int8');
    }
    const byName = Object.fromEntries(candidates.map((c) => [c.name, c]));
    // the same pruned convs, less the 1x1 conv work int8's split moves before the upsamples (about 2%)
    expect(byName['prune25-int8'].flops).toBeLessThan(byName.prune25.flops);
    expect(byName['prune25-int8'].flops).toBeGreaterThan(0.95 * byName.prune25.flops);
    expect(byName['prune25-64'].imgsz).toBe(64);
    expect(byName.spatial20.lineage!.steps.find((s) => s.method === 'factorize')!.params).toMatchObject({ method: 'spatial', refit: true });
    expect(byName.dws30.method).toBe('dws30');
  }, 120_000);

  it('imports a candidate with its declared accuracy, shown as declared', async () => {
    const [model] = catalog.listModels();
    const c = await catalog.importCandidate(model.id, writeModel(buildYolov8({ scale: 'n', imgsz: 96, nc: 4, seed: 7 })), { method: 'distill', declaredMap5095: 0.31, source: 'vendor model card' });
    expect(c).toMatchObject({ name: 'import-distill', method: 'distill', accuracy: { value: 0.31, kind: 'declared' }, source: 'vendor model card', family: 'fp32' });
  });

  it('answers bad input with a clear error', async () => {
    await expect(catalog.addModel(new Uint8Array([1, 2, 3]), 'x')).rejects.toThrow(/not a readable ONNX model/);
    await expect(catalog.addModel(writeModel(buildYolov8({ scale: 'n', imgsz: 64, nc: 1 })), 'bad name!')).rejects.toBeInstanceOf(CatalogError);
    expect(() => jobs.start('m-nope', { ladder: 'quick' })).toThrow(/no model 'm-nope'/);
    const [model] = catalog.listModels();
    expect(() => jobs.start(model.id, { ladder: 'huge' })).toThrow(/unknown ladder 'huge'/);
    await expect(catalog.importCandidate(model.id, writeModel(buildYolov8({ scale: 'n', imgsz: 64, nc: 1 })), { method: 'kd', declaredMap5095: 3 })).rejects.toThrow(/\[0, 1\]/);
  });
});
