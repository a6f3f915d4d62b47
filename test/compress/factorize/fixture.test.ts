import { describe, expect, it } from 'vitest';
import { readdirSync } from 'node:fs';
import { readModelFile } from '../../../compress/onnx/read.js';
import { dequantizeModel } from '../../../compress/onnx/dequantize.js';
import { factorizeModel } from '../../../compress/factorize/factorize.js';
import { checkModel } from '../../../compress/onnx/check.js';
import { measureFidelity, modelDetector } from '../../../compress/fidelity.js';
import { fixture, fixturesSkipReason, haveFixtures } from '../../fixtures.js';

// The refit gates (spatial 20% + refit ≥ 0.9, dws 20% ≥ 0.95) take minutes on
// 2 cores: they live in bench/factorize.bench.ts with PASS/FAIL lines.
describe.skipIf(!haveFixtures)(`factorize the real YOLOv8n (${fixturesSkipReason})`, () => {
  it('dws at a 20% FLOPs cut keeps held-out fidelity ≥ 0.9 without refit', async () => {
    const base = dequantizeModel(readModelFile(fixture('models', 'yolov8n_int8_qdq.onnx'))).model;
    const { model, report } = await factorizeModel(base, { method: 'dws', flopsCut: 0.2 });
    expect(checkModel(model).ok).toBe(true);
    expect(report.cut).toBeGreaterThanOrEqual(0.2);
    expect(report.layers.length).toBe(28);
    const val = fixture('coco8', 'images', 'val');
    const heldOut = [...readdirSync(val).map((f) => `${val}/${f}`), fixture('images', 'bus.jpg'), fixture('images', 'zidane.jpg')];
    const baseline = await modelDetector(base);
    try {
      const { fidelity } = await measureFidelity(model, baseline, heldOut);
      expect(fidelity).toBeGreaterThanOrEqual(0.9);
    } finally {
      await baseline.release();
    }
  });
});
