import { describe, expect, it } from 'vitest';
import { fitLocalPredictor, fitSizes, median } from '../../agent/profile/fit-predictor.js';
import { calibrationFromFiles } from '../../compress/calibration.js';
import { nodeShapes } from '../../compress/latency/features.js';
import { predictLatency } from '../../compress/latency/predict.js';
import { buildYolov8 } from '../../compress/yolo/builder.js';
import { fixture, fixturesSkipReason, haveFixtures } from '../fixtures.js';

describe('local predictor fit', () => {
  it('spans the sizes the search asks for: largest, smallest and the multiple of 32 nearest their middle', () => {
    expect(fitSizes([640, 320])).toEqual([640, 480, 320]);
    expect(fitSizes([320, 640, 512])).toEqual([640, 480, 320]);
    // (640 + 416) / 2 = 528 = 16.5 × 32 → 544 (Math.round rounds half up)
    expect(fitSizes([416, 640])).toEqual([640, 544, 416]);
    expect(fitSizes([640])).toEqual([640]);
    expect(fitSizes([640, 608])).toEqual([640, 608]);
    expect(() => fitSizes([])).toThrow(/no input sizes/);
  });

  it('takes the middle of an odd count and the mean of the two middles of an even one', () => {
    expect(median([5, 1, 3])).toBe(3);
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });

  it.skipIf(!haveFixtures)(`builds, times and op-profiles a fit set of a real model here, and fits every kind of the base model (${haveFixtures ? 'fixture images' : fixturesSkipReason})`, async () => {
    // a builder YOLOv8n at 96 px: the fit set at 96/64 px (all twelve members) in seconds, not the minutes of 640 px
    const base = buildYolov8({ scale: 'n', imgsz: 96 });
    const calibration = await calibrationFromFiles([fixture('images', 'bus.jpg'), fixture('images', 'zidane.jpg')], 96, { viewsPerImage: 1 });
    const stages = new Set<string>();
    const { predictor, fitSet } = await fitLocalPredictor(base, { calibration, threads: 1, sizes: [96, 64], passes: 1, runs: 2, opRuns: 2, onProgress: (p) => stages.add(p.stage) });
    expect([...stages]).toEqual(['build', 'time', 'profile', 'fit']);
    // 96 → 64: the middle (80) rounds to 96 (2.5 × 32 rounds up), so two sizes
    expect(new Set(fitSet.map((m) => m.size))).toEqual(new Set([96, 64]));
    expect(fitSet.map((m) => m.name)).toContain('int8 64');
    expect(fitSet.map((m) => m.name)).toContain('fp16 64');
    expect(predictor.profiles).toBe(fitSet.length);
    for (const m of fitSet) {
      expect(m.measuredMs).toBeGreaterThan(0);
      expect(m.opProfile.nodes).toBeGreaterThan(10);
      expect(m.opProfile.kernelMs).toBeGreaterThan(0);
    }
    // every kind of the base model was fitted: nothing is predicted 0
    const p = predictLatency(predictor, nodeShapes(base));
    expect(p.unseen).toEqual([]);
    expect(p.ms).toBeGreaterThan(0);
  }, 120_000);
});
