import { describe, expect, it } from 'vitest';
import { readdirSync } from 'node:fs';
import { readModelFile } from '../../../compress/onnx/read.js';
import { dequantizeModel } from '../../../compress/onnx/dequantize.js';
import { loadCalibration } from '../../../compress/calibration.js';
import { quantizeModel } from '../../../compress/quantize/quantize.js';
import { convertToFp16 } from '../../../compress/fp16.js';
import { measureFidelity, modelDetector } from '../../../compress/fidelity.js';
import { fixture, fixturesSkipReason, haveFixtures } from '../../fixtures.js';
import { integerKernelCount, optimizedOps } from './integer-kernels.js';

describe.skipIf(!haveFixtures)(`int8 and fp16 of the real YOLOv8n (${fixturesSkipReason})`, () => {
  const heldOut = () => [
    ...readdirSync(fixture('coco8', 'images', 'val')).map((f) => fixture('coco8', 'images', 'val', f)),
    fixture('images', 'bus.jpg'),
    fixture('images', 'zidane.jpg'),
  ];

  it('int8 QDQ calibrated on coco8 train keeps fidelity ≥ 0.9 on held-out images and runs as QLinearConv', async () => {
    const float = dequantizeModel(readModelFile(fixture('models', 'yolov8n_int8_qdq.onnx'))).model;
    const calibration = await loadCalibration(fixture('coco8', 'images', 'train'), 640);
    const { model, report } = await quantizeModel(float, calibration, { method: 'percentile', perChannel: true });
    // The opset-11 export is raised to 13 for per-channel DequantizeLinear.
    expect(report.opset).toBe(13);
    // 57 conv+SiLU less the float stem, the six box/class logit read-outs, and the neck's two 1x1 convs over an upsample each split in two (hoistPointwise)
    expect(report.quantizedConvs.length).toBe(64);
    const baseline = await modelDetector(float);
    try {
      const fidelity = (await measureFidelity(model, baseline, heldOut())).fidelity;
      expect(fidelity).toBeGreaterThanOrEqual(0.9);
      const fp16 = (await measureFidelity(convertToFp16(float).model, baseline, heldOut())).fidelity;
      expect(fp16).toBeGreaterThanOrEqual(0.95);
    } finally {
      await baseline.release();
    }
    const ops = await optimizedOps(model);
    // On x86 ORT picks its NHWC com.microsoft.QLinearConv; either domain is an integer conv.
    expect((ops.QLinearConv ?? 0) + (ops['com.microsoft.QLinearConv'] ?? 0)).toBeGreaterThanOrEqual(57);
    expect(integerKernelCount(ops)).toBeGreaterThanOrEqual(57);
    // About 13 s of CPU; at load 14 on the shared 2-core VM it took over 60 s of wall time.
  }, 300_000);
});
