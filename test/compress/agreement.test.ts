import { describe, expect, it } from 'vitest';
import { AgreementJudge, outputDrift, relativeError } from '../../compress/agreement.js';
import type { CalibrationSet } from '../../compress/calibration.js';
import { loadCalibration } from '../../compress/calibration.js';
import { dequantizeModel } from '../../compress/onnx/dequantize.js';
import { readModelFile } from '../../compress/onnx/read.js';
import { pruneModel } from '../../compress/prune/prune.js';
import { fixture, fixturesSkipReason, haveFixtures } from '../fixtures.js';
import { imageInput, Net } from './prune/helpers.js';

/** A raw [4 + 2, 3] output: anchors as (cx, cy, w, h, score0, score1). */
function output(anchors: number[][]): Float32Array {
  const n = anchors.length;
  const out = new Float32Array(6 * n);
  anchors.forEach((a, i) => a.forEach((v, r) => (out[r * n + i] = v)));
  return out;
}

const base = [
  [50, 50, 20, 20, 0.9, 0.01],
  [100, 100, 40, 10, 0.02, 0.6],
  [10, 10, 5, 5, 0.001, 0.002],
];

describe('output drift', () => {
  it('is zero for the same output and grows with box and score changes at confident anchors', () => {
    const b = output(base);
    expect(outputDrift(b, b, 2, 3)).toEqual({ drift: 0, weight: 0.9 + 0.6 });
    const shifted = (dx: number) => outputDrift(b, output([[50 + dx, 50, 20, 20, 0.9, 0.01], base[1], base[2]]), 2, 3).drift;
    expect(shifted(2)).toBeGreaterThan(0);
    expect(shifted(6)).toBeGreaterThan(shifted(2));
    const weaker = outputDrift(b, output([base[0], [100, 100, 40, 10, 0.02, 0.3], base[2]]), 2, 3).drift;
    expect(weaker).toBeCloseTo(0.6 * 0.3, 6);
  });

  it('ignores background anchors but counts a new confident box', () => {
    const b = output(base);
    expect(outputDrift(b, output([base[0], base[1], [30, 10, 5, 5, 0.01, 0.002]]), 2, 3).drift).toBe(0);
    const ghost = outputDrift(b, output([base[0], base[1], [10, 10, 5, 5, 0.5, 0.002]]), 2, 3);
    expect(ghost.drift).toBeCloseTo(0.5 * 0.499, 6);
    expect(ghost.weight).toBeCloseTo(1.5, 6);
  });
});

describe('agreement of a model that is not a detector', () => {
  it('is the relative squared error of the raw output', async () => {
    expect(relativeError([Float32Array.of(1, 3)], [Float32Array.of(1, 3)])).toBe(0);
    expect(relativeError([Float32Array.of(1, 3)], [Float32Array.of(2, 2)])).toBe(1);
    expect(() => relativeError([Float32Array.of(1, 3)], [Float32Array.of(2)])).toThrow(/1 values, the base model's 2/);
    const net = new Net();
    const model = net.model(net.conv(net.convSilu('images', 3, 16), 16, 8), 16);
    const calibration: CalibrationSet = { files: [], inputs: [0, 1].map((i) => imageInput(16, 30 + i).images.data as Float32Array), size: 16 };
    const judge = await AgreementJudge.create(model, calibration);
    expect(await judge.judge(model)).toEqual({ fidelity: 1, discrepancy: 0, loss: 0 });
    const { model: pruned } = await pruneModel(model, { method: 'l1', ratio: 0.5, roundTo: 1 });
    const a = await judge.judge(pruned);
    expect(a.fidelity).toBe(1);
    expect(a.loss).toBe(a.discrepancy);
    expect(a.discrepancy).toBeGreaterThan(0.01);
  });
});

describe.skipIf(!haveFixtures)(`agreement with the fixture yolov8n (${fixturesSkipReason})`, () => {
  it('judges the base model perfect and a pruned one worse on both fidelity and drift', async () => {
    const model = dequantizeModel(readModelFile(fixture('models', 'yolov8n_int8_qdq.onnx'))).model;
    const calibration = await loadCalibration(fixture('coco8', 'images', 'train'), 640, { maxImages: 2 });
    const judge = await AgreementJudge.create(model, calibration);
    expect(await judge.judge(model)).toEqual({ fidelity: 1, discrepancy: 0, loss: 0 });
    const { model: pruned } = await pruneModel(model, { method: 'l1', ratio: 0.1 });
    const a = await judge.judge(pruned);
    expect(a.discrepancy).toBeGreaterThan(0.05);
    expect(a.fidelity).toBeLessThan(1);
    expect(a.loss).toBeCloseTo(1 - a.fidelity + a.discrepancy, 9);
  }, 60_000);
});
