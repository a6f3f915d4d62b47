import { describe, expect, it } from 'vitest';
import ort from 'onnxruntime-node';
import { buildYolov8 } from '../../compress/yolo/builder.js';
import { resizeModel, ResizeError } from '../../compress/resize.js';
import { runModel } from '../../compress/onnx/session.js';
import { readModelFile } from '../../compress/onnx/read.js';
import { dequantizeModel } from '../../compress/onnx/dequantize.js';
import { readLineage } from '../../compress/lineage.js';
import { modelDetector } from '../../compress/fidelity.js';
import { readImage } from '../../compress/detect/image.js';
import { iou, type Detection } from '../../compress/detect/postprocess.js';
import type { Model } from '../../compress/onnx/ir.js';
import { fixture, fixturesSkipReason, haveFixtures } from '../fixtures.js';

describe('resize on builder-made models', () => {
  const at640 = buildYolov8({ scale: 'n', imgsz: 640 });

  for (const size of [160, 224, 320]) {
    it(`resize(yolov8n@640, ${size}) equals yolov8n built at ${size}, output for output`, async () => {
      const { model, report } = resizeModel(at640, size);
      const n = (size / 8) ** 2 + (size / 16) ** 2 + (size / 32) ** 2;
      expect(report).toMatchObject({ from: 640, to: size, strides: [8, 16, 32], anchorsBefore: 8400, anchorsAfter: n });
      expect(model.graph.inputs[0].shape).toEqual([1, 3, size, size]);
      expect(model.graph.outputs[0].shape).toEqual([1, 84, n]);
      expect(model.metadata.get('imgsz')).toBe(`[${size}, ${size}]`);
      expect(readLineage(model)?.steps.at(-1)).toMatchObject({ method: 'resize', params: { from: 640, to: size } });
      const fresh = buildYolov8({ scale: 'n', imgsz: size });
      const input = Float32Array.from({ length: 3 * size * size }, (_, i) => ((i * 7919) % 255) / 255);
      const feeds = { images: new ort.Tensor('float32', input, [1, 3, size, size]) };
      const [a, b] = [(await runModel(model, feeds)).output0, (await runModel(fresh, feeds)).output0];
      expect(a.dims).toEqual([1, 84, n]);
      expect(Array.from(a.data as Float32Array)).toEqual(Array.from(b.data as Float32Array));
    });
  }

  it('from 64 px, where the 84 anchors equal the 4 + 80 output rows, rewrites only the anchor axis', async () => {
    // 64 px: 8² + 4² + 2² = 84 anchors, the same number as the box and class rows of output0 [1,84,N]
    const { model, report } = resizeModel(buildYolov8({ scale: 'n', imgsz: 64 }), 32);
    const n = 4 ** 2 + 2 ** 2 + 1;
    expect(report).toMatchObject({ anchorsBefore: 84, anchorsAfter: n });
    expect(model.graph.outputs[0].shape).toEqual([1, 84, n]);
    const input = Float32Array.from({ length: 3 * 32 * 32 }, (_, i) => ((i * 7919) % 255) / 255);
    const feeds = { images: new ort.Tensor('float32', input, [1, 3, 32, 32]) };
    const [a, b] = [(await runModel(model, feeds)).output0, (await runModel(buildYolov8({ scale: 'n', imgsz: 32 }), feeds)).output0];
    expect(a.dims).toEqual([1, 84, n]);
    expect(Array.from(a.data as Float32Array)).toEqual(Array.from(b.data as Float32Array));
  });

  it('works on the p2 and p6 heads too (strides 4..32 and 8..64)', () => {
    expect(resizeModel(buildYolov8({ scale: 'n', head: 'p2', imgsz: 256 }), 128).report.strides).toEqual([4, 8, 16, 32]);
    expect(resizeModel(buildYolov8({ scale: 'n', head: 'p6', imgsz: 256 }), 384).report.anchorsAfter).toBe(48 ** 2 + 24 ** 2 + 12 ** 2 + 6 ** 2);
  });

  it('refuses sizes that are not a multiple of the largest stride, and models without a Detect head', () => {
    expect(() => resizeModel(at640, 300)).toThrow(/multiple of the model's largest stride 32/);
    const headless: Model = structuredClone(at640);
    for (const t of headless.graph.initializers.values()) if (t.dims.length === 3 && t.dims[1] === 2) t.data = new Float32Array(t.data.length);
    expect(() => resizeModel(headless, 320)).toThrow(ResizeError);
  });
});

describe.skipIf(!haveFixtures)(`resize the real YOLOv8n (${fixturesSkipReason})`, () => {
  it('at 512/416/320 finds the bus and the people that 640 finds, in original image pixels', async () => {
    const base = dequantizeModel(readModelFile(fixture('models', 'yolov8n_int8_qdq.onnx'))).model;
    const bus = await readImage(fixture('images', 'bus.jpg'));
    const detect = async (m: Model): Promise<Detection[]> => {
      const d = await modelDetector(m);
      try {
        return (await d.detect(bus)).detections;
      } finally {
        await d.release();
      }
    };
    const reference = await detect(base);
    // Big objects: the bus and the three standing people (score ≥ 0.5 at 640).
    const big = reference.filter((d) => d.score >= 0.5);
    expect(big.length).toBe(4);
    for (const size of [512, 416, 320]) {
      const found = await detect(resizeModel(base, size).model);
      for (const r of big) {
        const best = Math.max(0, ...found.filter((f) => f.classId === r.classId).map((f) => iou(f.box, r.box)));
        expect(best, `${size}: class ${r.classId} at [${r.box.map(Math.round).join(',')}]`).toBeGreaterThanOrEqual(0.5);
      }
    }
  });
});
