import { describe, expect, it } from 'vitest';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { loadCalibration } from '../../../compress/calibration.js';
import { Detector } from '../../../compress/detect/detector.js';
import { measureFidelity } from '../../../compress/fidelity.js';
import { dequantizeModel } from '../../../compress/onnx/dequantize.js';
import { readModelFile } from '../../../compress/onnx/read.js';
import { writeModel } from '../../../compress/onnx/write.js';
import { pruneModel } from '../../../compress/prune/prune.js';
import { fixture, fixturesSkipReason, haveFixtures } from '../../fixtures.js';

// The full table (every method, 10/20/35%, with augmented views) is
// bench/prune-fidelity.bench.ts; here the plain 4 images keep it to about a minute.
describe.skipIf(!haveFixtures)(`held-out fidelity on the fixture yolov8n (${fixturesSkipReason})`, () => {
  const heldOut = () => {
    const val = fixture('coco8', 'images', 'val');
    return [...readdirSync(val).sort().map((f) => path.join(val, f)), fixture('images', 'bus.jpg'), fixture('images', 'zidane.jpg')];
  };

  it('channel substitution from 4 calibration images raises held-out fidelity at 10% fewer FLOPs', async () => {
    const model = dequantizeModel(readModelFile(fixture('models', 'yolov8n_int8_qdq.onnx'))).model;
    const calibration = await loadCalibration(fixture('coco8', 'images', 'train'), 640);
    const baseline = await Detector.create(writeModel(model));
    try {
      const plain = await pruneModel(model, { method: 'l1', flopsCut: 0.1 });
      const recovered = await pruneModel(model, { method: 'l1', flopsCut: 0.1, reconstruct: true, calibration });
      expect(recovered.report.flops.after).toBe(plain.report.flops.after);
      const before = (await measureFidelity(plain.model, baseline, heldOut())).fidelity;
      const after = (await measureFidelity(recovered.model, baseline, heldOut())).fidelity;
      expect(after).toBeGreaterThan(before + 0.1);
    } finally {
      await baseline.release();
    }
  }, 120_000);

  it('sensitivity allocation with substitution keeps most detections at 20% fewer FLOPs, where uniform loses them', async () => {
    const model = dequantizeModel(readModelFile(fixture('models', 'yolov8n_int8_qdq.onnx'))).model;
    const calibration = await loadCalibration(fixture('coco8', 'images', 'train'), 640);
    const baseline = await Detector.create(writeModel(model));
    try {
      const uniform = await pruneModel(model, { method: 'l1', flopsCut: 0.2, reconstruct: true, calibration });
      const allocated = await pruneModel(model, { method: 'l1', flopsCut: 0.2, reconstruct: true, sensitivity: true, calibration, baseSha256: 'fixture-yolov8n', activations: uniform.activations });
      expect(allocated.report.flops.after).toBeLessThanOrEqual(allocated.report.flops.before * 0.8);
      const fragile = allocated.report.groups.filter((g) => (g.sensitivity?.[0]?.loss ?? 0) >= 0.3);
      expect(fragile.length).toBeGreaterThan(0);
      for (const g of fragile) expect(g.removed).toBe(0);
      const u = (await measureFidelity(uniform.model, baseline, heldOut())).fidelity;
      const s = (await measureFidelity(allocated.model, baseline, heldOut())).fidelity;
      expect(u).toBeLessThan(0.4);
      expect(s).toBeGreaterThan(0.8);
    } finally {
      await baseline.release();
    }
  }, 240_000);
});
