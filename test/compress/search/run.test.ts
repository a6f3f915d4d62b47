// runSearch end to end on a builder-made YOLOv8n at 96 px: a tiny population
// for two generations, a latency predictor fitted on synthetic operator times
// (node time = 1 µs + MACs or elements / 1e5: the proxy's arithmetic is what
// is tested, not this machine's speed), real calibration and held-out images.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { calibrationFromFiles, modelInputSize, type CalibrationSet } from '../../../compress/calibration.js';
import { nodeShapes } from '../../../compress/latency/features.js';
import { fitPredictor, type LatencyPredictor } from '../../../compress/latency/predict.js';
import { readLineage } from '../../../compress/lineage.js';
import type { Model } from '../../../compress/onnx/ir.js';
import { resizeModel } from '../../../compress/resize.js';
import { chooseFront, runSearch, spreadAlongFront, type SearchOptions, type SearchResult } from '../../../compress/search/run.js';
import type { ProxyTerms } from '../../../compress/search/proxy.js';
import { searchSpace } from '../../../compress/search/space.js';
import { fitRecoveryCurve, measureRecoveryScale } from '../../../compress/search/terms.js';
import { dequantizeModel } from '../../../compress/onnx/dequantize.js';
import { readModelFile } from '../../../compress/onnx/read.js';
import { fixture, fixturesSkipReason, haveFixtures } from '../../fixtures.js';

const syntheticProfile = (m: Model) => {
  const shapes = nodeShapes(m);
  const nodeUs = new Map(shapes.map((s) => [s.node, 1 + s.x[0] / 1e5]));
  return { shapes, nodeUs, measuredMs: [...nodeUs.values()].reduce((a, b) => a + b, 0) / 1000 };
};

describe('the front that is built', () => {
  const point = (ms: number, loss: number) => ({ genome: ms, objectives: [ms, loss], violation: 0, rank: 0, crowding: 0 });
  const front = [point(1, 5), point(2, 0.9), point(3, 0.5), point(4, 0.3), point(5, 0.2), point(6, 0.1), point(10, 0)];
  // the area a chosen set dominates, from the definition: each point from its latency to the next chosen one's,
  // from its loss up to 1 (the least lossy point, last, covers nothing)
  const area = (pts: ReadonlyArray<readonly number[]>) => pts.reduce((sum, [x, y], i) => sum + ((pts[i + 1]?.[0] ?? x) - x) * (1 - y), 0);
  const subsets = <T,>(xs: readonly T[], k: number): T[][] => (k === 0 ? [[]] : xs.flatMap((x, i) => subsets(xs.slice(i + 1), k - 1).map((rest) => [x, ...rest])));
  it('keeps the least lossy of the points predicted to keep some boxes (loss ≤ 1) and with it the set that dominates the most area', () => {
    // useful: 2..10 ms; 10 kept. Three points: a, b, 10 cover (x_b − x_a)(1 − y_a) + (10 − x_b)(1 − y_b):
    // 3, 6 → 1.5 + 3.6 = 5.1, the most (4, 6 → 1.4 + 3.6 = 5.0; 3, 5 → 1.0 + 4.0 = 5.0; 2, 4 → 0.2 + 4.2 = 4.4)
    expect(chooseFront(front, 3).map((p) => p.genome)).toEqual([3, 6, 10]);
    const useful = front.filter((p) => p.objectives[1] <= 1).map((p) => p.objectives);
    for (const k of [2, 3, 4, 5]) {
      const chosen = chooseFront(front, k).map((p) => p.objectives);
      expect(chosen).toHaveLength(k);
      expect(chosen.at(-1)).toEqual([10, 0]);
      const most = Math.max(...subsets(useful.slice(0, -1), k - 1).map((s) => area([...s, [10, 0]])));
      expect(area(chosen)).toBeCloseTo(most, 12);
    }
    // one point: the least lossy
    expect(chooseFront(front, 1).map((p) => p.genome)).toEqual([10]);
  });
  it('takes the knee, where an even spread along latency takes the point nearest the middle, and not a fastest point that covers little', () => {
    // two points, 10 and one more: (6, 0.2) covers 4·0.8 = 3.2, (5, 0.8) 5·0.2 = 1.0, (1, 0.9) 9·0.1 = 0.9;
    // three: 1, 6 → 5·0.1 + 3.2 = 3.7; 5, 6 → 1·0.2 + 3.2 = 3.4; 1, 5 → 4·0.1 + 1.0 = 1.4
    const knee = [point(1, 0.9), point(5, 0.8), point(6, 0.2), point(10, 0)];
    expect(chooseFront(knee, 2).map((p) => p.genome)).toEqual([6, 10]);
    expect(chooseFront(knee, 3).map((p) => p.genome)).toEqual([1, 6, 10]);
    // a duplicate pair of objectives counts once
    expect(spreadAlongFront([...knee, { ...point(6, 0.2), genome: 66 }], 4).map((p) => p.genome)).toEqual([1, 5, 6, 10]);
    // a fastest point predicted to lose nearly everything gives its pick to one that covers more
    const junk = [point(1, 0.99), point(2, 0.5), point(3, 0.4), point(10, 0)];
    // 1, 2, 10: 0.01 + 8·0.5 = 4.01; 2, 3, 10: 0.5 + 7·0.6 = 4.7
    expect(chooseFront(junk, 3).map((p) => p.genome)).toEqual([2, 3, 10]);
  });
  it('fills from the rest, least loss first, only when the useful points are too few', () => {
    expect(chooseFront(front, 8).map((p) => p.genome)).toEqual([1, 2, 3, 4, 5, 6, 10]);
    expect(chooseFront([point(1, 5), point(2, 3), point(3, 2)], 2).map((p) => p.genome)).toEqual([2, 3]);
  });
});

describe.skipIf(!haveFixtures)(`runSearch (${fixturesSkipReason})`, () => {
  let dir: string;
  let base: Model;
  let calibration: CalibrationSet;
  let predictor: LatencyPredictor;
  let straight: SearchResult;
  const options = (o: Partial<SearchOptions>): SearchOptions => ({
    base, baseSha256: 'test-base', calibration, heldOut: [fixture('coco8', 'images', 'val', '000000000036.jpg'), fixture('images', 'bus.jpg')],
    predictor, threads: 1, populationSize: 8, generations: 2, seed: 7, front: 2, sizes: [96, 64], precisions: ['fp32', 'fp16'],
    // six prune groups (model.8 and .9), no factorization (its terms are tested in proxy.test.ts): the measured terms take seconds
    ignore: [/^\/model\.(?![89]\/)/], factor: false, reconstruct: false, cacheDir: path.join(dir, 'cache'), ...o,
  });

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'edgefit-search-run-'));
    // the fixture's trained weights at 96 px: random weights find no object, and fidelity needs the base model's boxes
    base = resizeModel(dequantizeModel(readModelFile(fixture('models', 'yolov8n_int8_qdq.onnx'))).model, 96).model;
    const train = ['000000000009.jpg', '000000000025.jpg'].map((f) => fixture('coco8', 'images', 'train', f));
    calibration = await calibrationFromFiles(train, 96, { minInputs: 4 });
    predictor = fitPredictor([syntheticProfile(base), syntheticProfile(resizeModel(base, 64).model), syntheticProfile(resizeModel(base, 32).model)]);
    straight = await runSearch(options({ statePath: path.join(dir, 'straight.json') }));
  }, 120_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('returns a front no member of which dominates another, each built with its genome in the lineage', () => {
    expect(straight.generations).toBe(2);
    expect(straight.front.length).toBeGreaterThan(0);
    expect(straight.front.length).toBeLessThanOrEqual(2);
    const dominates = (a: number[], b: number[]) => a.every((v, i) => v <= b[i]) && a.some((v, i) => v < b[i]);
    for (const a of straight.front) {
      for (const b of straight.front) expect(dominates([a.predictedMs, a.predictedLoss], [b.predictedMs, b.predictedLoss])).toBe(false);
      const step = readLineage(a.model)?.steps.find((s) => s.method === 'search');
      expect(step?.params.genome).toEqual(a.genome);
      expect(modelInputSize(a.model)).toBe(a.genome.size);
      expect(Number.isFinite(a.fidelity) || Number.isNaN(a.fidelity)).toBe(true);
    }
  });

  it('resumed from the state after generation 1 gives the same front and state as the straight run', async () => {
    const statePath = path.join(dir, 'resumed.json');
    const first = await runSearch(options({ statePath, generations: 1, front: 1 }));
    expect(first.generations).toBe(1);
    const resumed = await runSearch(options({ statePath }));
    expect(resumed.generations).toBe(2);
    expect(resumed.front.map((c) => [c.genome, c.predictedMs, c.predictedLoss])).toEqual(straight.front.map((c) => [c.genome, c.predictedMs, c.predictedLoss]));
    expect(JSON.parse(readFileSync(statePath, 'utf8')).state).toEqual(JSON.parse(readFileSync(path.join(dir, 'straight.json'), 'utf8')).state);
  });

  it('with reconstruct, fits the prune recovery curve on recovered probes judged on held-back sources, and says so', async () => {
    const r = await runSearch(options({ reconstruct: true, generations: 1, front: 1 }));
    const deep = r.recoveryScale?.probes.find((p) => p.kind === 'prune' && p.depth === 'deep');
    expect(deep).toBeDefined();
    expect(deep!.predicted).toBeGreaterThan(0);
    // two source images: the probe's recovery is fitted on one and judged on the other
    expect(deep!.heldBack).toBe(true);
    const shallow = r.recoveryScale!.probes.find((p) => p.kind === 'prune' && p.depth === 'shallow');
    expect(r.recoveryScale!.prune).toEqual(fitRecoveryCurve(deep!, shallow));
    // the front's predicted loss is the one the curves give
    const c = r.front[0];
    expect(c.predictedLoss).toBeGreaterThanOrEqual(0);
    expect(straight.recoveryScale).toBeUndefined();
  }, 120_000);

  it('fits each recovery probe on one half of the calibration sources, once per half, and on the whole set when there is one source', async () => {
    const space = searchSpace(base, { sizes: [96], precisions: ['fp32'], factor: false });
    const terms: ProxyTerms = { sizePrecision: {}, prune: space.groups.map((g) => g.removals.map((_, i) => i / 10)), factor: [] };
    const fits: number[][] = [];
    // the base model itself as the "recovered" build: every judge then measures no loss
    const buildRecovered = async (_g: unknown, fitOn: CalibrationSet) => (fits.push([...new Set(fitOn.sources)]), base);
    const scale = await measureRecoveryScale({ base, baseSha256: 'test-base', space, terms, calibration, buildRecovered });
    // each probe (deep, and shallow where the cheap half holds more than SHALLOW_CUTS) fitted once per half
    const depths = scale.probes.map((p) => p.depth);
    expect(fits).toEqual(depths.flatMap(() => [[0], [1]]));
    expect(scale.probes[0]).toEqual(expect.objectContaining({ kind: 'prune', depth: 'deep', measured: 0, heldBack: true }));
    fits.length = 0;
    const one = { ...calibration, sources: calibration.inputs.map(() => 0) };
    const inSample = await measureRecoveryScale({ base, baseSha256: 'test-base', space, terms, calibration: one, buildRecovered });
    expect(fits).toEqual(depths.map(() => [0]));
    expect(inSample.probes[0].heldBack).toBe(false);
  }, 60_000);

  it('refuses a corrupt state file and one of another search with one clear line', async () => {
    const corrupt = path.join(dir, 'corrupt.json');
    writeFileSync(corrupt, '{"format": "edgefit-search-state-1", "state": {"popul');
    await expect(runSearch(options({ statePath: corrupt }))).rejects.toThrow(/^search state .*corrupt\.json is not JSON .*remove it to start afresh$/);
    await expect(runSearch(options({ statePath: path.join(dir, 'straight.json'), seed: 8 }))).rejects.toThrow(/belongs to another search \(its seed 7 ≠ 8\)/);
  });
});
