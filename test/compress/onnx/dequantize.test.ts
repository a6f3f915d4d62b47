import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { readModelFile } from '../../../compress/onnx/read.js';
import { DequantizeError, dequantizeModel, dequantizeTensor } from '../../../compress/onnx/dequantize.js';
import { modelInfo } from '../../../compress/onnx/info.js';
import { DataType } from '../../../compress/onnx/ir.js';
import { run } from '../../../cli/model-dequantize.js';
import { commandSpec } from '../../helpers/cli.js';
import { fixture, fixturesSkipReason, haveFixtures } from '../../fixtures.js';
import { handBuiltModel } from './helpers.js';
import { writeModel } from '../../../compress/onnx/write.js';
import type { Model } from '../../../compress/onnx/ir.js';
import { Detector } from '../../../compress/detect/detector.js';
import { decodeImage } from '../../../compress/detect/image.js';
import { iou, type Detection } from '../../../compress/detect/postprocess.js';

function counts(ds: readonly Detection[]): Record<number, number> {
  const out: Record<number, number> = {};
  for (const d of ds) out[d.classId] = (out[d.classId] ?? 0) + 1;
  return out;
}

async function detectBus(model: Model, bus: Uint8Array): Promise<Detection[]> {
  const detector = await Detector.create(writeModel(model));
  try {
    return (await detector.detect(decodeImage(bus), { conf: 0.25, iou: 0.45 })).detections;
  } finally {
    await detector.release();
  }
}

describe('dequantizeTensor', () => {
  it('applies per-tensor and per-channel scales and zero points', () => {
    const q = { name: 'q', dataType: DataType.INT8, dims: [2, 2], data: Int8Array.from([-128, 0, 10, 127]) };
    const perTensor = dequantizeTensor('w', q, { name: 's', dataType: DataType.FLOAT, dims: [], data: Float32Array.from([0.5]) }, undefined, 0);
    expect(Array.from(perTensor.data as Float32Array)).toEqual([-64, 0, 5, 63.5]);
    const perChannel = dequantizeTensor('w', q,
      { name: 's', dataType: DataType.FLOAT, dims: [2], data: Float32Array.from([1, 2]) },
      { name: 'z', dataType: DataType.INT8, dims: [2], data: Int8Array.from([0, 10]) }, 0);
    expect(Array.from(perChannel.data as Float32Array)).toEqual([-128, 0, 0, 234]);
  });

  it('refuses a float model', () => {
    expect(() => dequantizeModel(handBuiltModel())).toThrow(DequantizeError);
  });
});

describe.skipIf(!haveFixtures)(`dequantize fixtures (${fixturesSkipReason})`, () => {
  // Read in the tests, not at collection: a clone without the fixtures collects this suite too.
  const bus = () => readFileSync(fixture('images', 'bus.jpg'));

  for (const [file, convs] of [['yolov8n_int8_qdq.onnx', 64], ['yolov8n_int8_dynamic.onnx', 64], ['yolo11n_int8_dynamic_320.onnx', 88]] as const) {
    it(`${file} → float graph that detects what the int8 model detects on bus.jpg`, async () => {
      const quantized = readModelFile(fixture('models', file));
      const { model, report } = dequantizeModel(quantized);
      const info = modelInfo(model);
      expect(info.weightFormat).toBe('fp32');
      expect(info.ops.Conv).toBe(convs);
      expect(Object.keys(info.ops).some((op) => /Quantize|Integer/.test(op))).toBe(false);
      expect(info.parameters).toBe(modelInfo(quantized).parameters);
      if (file === 'yolov8n_int8_qdq.onnx') expect(report.nodesAfter).toBe(234);
      // Same objects found on bus.jpg: equal per-class counts, and every confident int8
      // detection has a float twin of the same class in nearly the same place.
      const [dq, df] = [await detectBus(quantized, bus()), await detectBus(model, bus())];
      expect(counts(df)).toEqual(counts(dq));
      expect(dq.length).toBeGreaterThanOrEqual(4);
      for (const d of dq.filter((x) => x.score >= 0.5)) {
        const twin = df.filter((x) => x.classId === d.classId).map((x) => iou(x.box, d.box));
        expect(Math.max(...twin)).toBeGreaterThan(0.85);
      }
    });
  }

  it('refuses the QOperator model with a clear message', () => {
    expect(() => dequantizeModel(readModelFile(fixture('models', 'yolov8n_int8_qlinear_broken.onnx')))).toThrow(/QOperator/);
  });

  it('edgefit model dequantize writes a runnable float model', async () => {
    const out = path.join(mkdtempSync(path.join(tmpdir(), 'edgefit-dq-')), 'float.onnx');
    const writes: string[] = [];
    const w = process.stdout.write;
    process.stdout.write = ((s: string) => (writes.push(s), true)) as typeof process.stdout.write;
    try {
      expect(await run([fixture('models', 'yolov8n_pruned_int8_qdq.onnx'), '-o', out], commandSpec('model dequantize'))).toBe(0);
    } finally {
      process.stdout.write = w;
    }
    expect(writes.join('')).toMatch(/64 Conv/);
    const info = modelInfo(readModelFile(out));
    expect(info.weightFormat).toBe('fp32');
    expect(info.parameters).toBe(2_716_152);
  });
});
