// The 'searched' ladder's filing of a search front: every front candidate
// becomes a ladder candidate with method 'searched', its measured held-out
// fidelity and its genome's lineage; the search gets held-out images that are
// never calibration images, the class's predictor when one is given, and the
// ladder's settings. The search itself (compress/search/run.ts) is another
// part's; here a stand-in with the contract's shape returns real models.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readLineage, addLineageStep } from '../../compress/lineage.js';
import { readModel } from '../../compress/onnx/read.js';
import { DEFAULT_SEARCH, generateSearchedLadder, predictorFromJson, predictorToJson, searchSizes, type Search } from '../../controller/catalog/searched-ladder.js';
import { LADDER_NAMES } from '../../controller/catalog/ladder-options.js';
import { builtYolov8n } from '../agent/models.js';
import { fixture, fixturesSkipReason, haveFixtures } from '../fixtures.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'edgefit-searched-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('searched ladder', () => {
  it("is a ladder name, searches sizes from the base's down to half of it, and carries a class's predictor across the worker boundary", () => {
    expect(LADDER_NAMES).toContain('searched');
    expect(searchSizes(640)).toEqual([640, 608, 576, 544, 512, 480, 448, 416, 384, 352, 320]);
    const p = { kinds: new Map([['Conv/fp32', { kind: 'Conv/fp32', samples: 5, weights: [1, 2], intercept: 3 }]]), scale: 1.1, constantMs: 0.4, profiles: 4 };
    expect(predictorFromJson(JSON.parse(JSON.stringify(predictorToJson(p))))).toEqual(p);
  });

  it.skipIf(!haveFixtures)(`files each front candidate with method searched, its measured fidelity and its genome${haveFixtures ? '' : ` (skipped: ${fixturesSkipReason})`}`, async () => {
    const base = readModel(readFileSync(builtYolov8n(dir, 96)));
    const seen: Array<Record<string, unknown>> = [];
    const genome = { size: 64, precision: 'fp32', prune: [0, 2], factor: [1] };
    const standIn: Search = async (o) => {
      seen.push({ heldOut: o.heldOut, calibration: o.calibration.files, predictor: o.predictor, sizes: o.sizes, threads: o.threads, front: o.front });
      const model = readModel(readFileSync(builtYolov8n(dir, 64)));
      addLineageStep(model, o.baseSha256, 'search', { genome });
      return { front: [{ name: 'searched-0', model, fidelity: 0.912 }], generations: 3, evaluations: 40, seconds: 2 };
    };
    const predictor = { kinds: [], scale: 1, constantMs: 2, profiles: 3 };
    const out = await generateSearchedLadder(
      { base, baseSha256: 'a'.repeat(64), synthetic: false, outDir: path.join(dir, 'out'), calibDir: fixture('coco8', 'images', 'train'), search: { ...DEFAULT_SEARCH, sizes: [96, 64], deviceClass: 'pi5', predictor } },
      () => undefined,
      standIn,
    );
    expect(out.candidates).toHaveLength(1);
    const c = out.candidates[0];
    expect(c).toMatchObject({ name: 'searched-0', method: 'searched', family: 'fp32', imgsz: 64, accuracy: { value: 0.912, kind: 'fidelity' } });
    expect(readLineage(readModel(readFileSync(c.file)))?.steps.at(-1)).toMatchObject({ method: 'search', params: { genome } });
    expect(c.lineage?.steps.at(-1)).toMatchObject({ method: 'search', params: { genome } });
    // held-out images are never calibration images
    const s = seen[0] as { heldOut: string[]; calibration: string[]; predictor: unknown; sizes: number[]; threads: number; front: number };
    expect(s.heldOut.length).toBeGreaterThan(0);
    expect(s.heldOut.filter((f) => s.calibration.includes(f))).toEqual([]);
    expect(s).toMatchObject({ sizes: [96, 64], threads: 1, front: 8, predictor: { kinds: new Map(), scale: 1, constantMs: 2, profiles: 3 } });
  }, 60_000);

  it('refuses synthetic weights, a missing --calib and a search without a class predictor with one clear line', async () => {
    const base = readModel(readFileSync(builtYolov8n(dir, 64)));
    const input = { base, baseSha256: 'b'.repeat(64), outDir: path.join(dir, 'o2'), search: { ...DEFAULT_SEARCH, sizes: [64] } };
    await expect(generateSearchedLadder({ ...input, synthetic: true, calibDir: dir })).rejects.toThrow(/synthetic weights have no fidelity to keep/);
    await expect(generateSearchedLadder({ ...input, synthetic: false })).rejects.toThrow(/needs calibration images: give --calib DIR/);
    await expect(generateSearchedLadder({ ...input, synthetic: false, calibDir: dir })).rejects.toThrow(/on the controller needs --class C/);
  });
});
