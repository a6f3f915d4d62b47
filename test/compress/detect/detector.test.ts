import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { Detector, DetectorError, parseUltralyticsNames } from '../../../compress/detect/detector.js';
import { readImage, type RgbImage } from '../../../compress/detect/image.js';
import { loadDataset } from '../../../compress/detect/dataset.js';
import { evaluateFidelity, evaluateMap, EvaluationError } from '../../../compress/detect/evaluate.js';
import { iou } from '../../../compress/detect/postprocess.js';
import { buildYolov8 } from '../../../compress/yolo/builder.js';
import { writeModel } from '../../../compress/onnx/write.js';
import { readModelFile } from '../../../compress/onnx/read.js';
import { fixture, fixturesSkipReason, haveFixtures } from '../../fixtures.js';

function noise(width: number, height: number): RgbImage {
  const rgb = new Uint8Array(width * height * 3);
  let s = 12345;
  for (let i = 0; i < rgb.length; i++) rgb[i] = (s = (s * 1103515245 + 12345) >>> 0) >>> 24;
  return { width, height, rgb };
}

describe('Detector on a builder-made YOLOv8n', () => {
  let detector: Detector;
  beforeAll(async () => {
    detector = await Detector.create(writeModel(buildYolov8({ scale: 'n', imgsz: 64, nc: 3 })), { intraOpThreads: 1, names: ['a', 'b', 'c'] });
  });
  afterAll(() => detector.release());

  it('reads the input name and size from the session', () => {
    expect([detector.inputName, detector.outputName, detector.inputWidth, detector.inputHeight]).toEqual(['images', 'output0', 64, 64]);
    expect(detector.className(1)).toBe('b');
    expect(detector.className(7)).toBe('7');
  });

  it('detects with timings and returns boxes inside the image', async () => {
    const { detections, timings } = await detector.detect(noise(90, 50), { conf: 0.001 });
    expect(timings.inferenceMs).toBeGreaterThan(0);
    expect(timings.preprocessMs).toBeGreaterThanOrEqual(0);
    for (const d of detections) {
      expect(d.score).toBeGreaterThanOrEqual(0.001);
      expect(d.classId).toBeLessThan(3);
      expect(d.box[0]).toBeGreaterThanOrEqual(0);
      expect(d.box[2]).toBeLessThanOrEqual(90);
      expect(d.box[3]).toBeLessThanOrEqual(50);
    }
  });

  it('serializes concurrent detect calls on the shared letterbox buffer', async () => {
    const a = noise(64, 64);
    const b = noise(30, 70);
    const [ra, rb] = await Promise.all([detector.detect(a, { conf: 0.01 }), detector.detect(b, { conf: 0.01 })]);
    expect((await detector.detect(a, { conf: 0.01 })).detections).toEqual(ra.detections);
    expect((await detector.detect(b, { conf: 0.01 })).detections).toEqual(rb.detections);
  });

  it('refuses bytes that are not a model', async () => {
    await expect(Detector.create(new TextEncoder().encode('not onnx'))).rejects.toThrow(DetectorError);
  });
});

describe('parseUltralyticsNames', () => {
  it('parses the Python dict repr, quotes included', () => {
    expect(parseUltralyticsNames(`{0: 'person', 1: "men's", 2: 'traffic light'}`)).toEqual(['person', "men's", 'traffic light']);
  });
});

/** PROVENANCE.md's verified bus.jpg boxes: [class, x1, y1, x2, y2]. */
const BUS_REFERENCE: Record<string, [number, number, number, number, number][]> = {
  'yolov8n_int8_dynamic.onnx': [[0, 222, 408, 343, 856], [0, 51, 398, 243, 904], [0, 672, 372, 810, 879], [5, 33, 231, 798, 767]],
  'yolov8n_int8_qdq.onnx': [[0, 51, 400, 242, 904], [0, 672, 378, 809, 876], [0, 225, 409, 343, 855], [5, 31, 233, 799, 769]],
  'yolo11n_int8_dynamic_320.onnx': [[0, 50, 391, 244, 906], [0, 219, 401, 345, 853], [0, 670, 393, 809, 874], [5, 29, 231, 803, 745]],
};

describe.skipIf(!haveFixtures)(`real models (${fixturesSkipReason})`, () => {
  const model = (name: string) => fixture('models', name);
  let bus: RgbImage;
  let names: string[];
  beforeAll(async () => {
    bus = await readImage(fixture('images', 'bus.jpg'));
    names = parseUltralyticsNames(readModelFile(model('yolov8n_int8_qdq.onnx')).metadata.get('names') ?? '');
  });

  it('class names come from the ultralytics metadata', () => {
    expect(names).toHaveLength(80);
    expect(names).toEqual(readFileSync(fixture('coco8', 'coco80.names'), 'utf8').trim().split('\n'));
  });

  // Static-int8 (QDQ) activations flip quantization bins on sub-grey-level input
  // differences, and PROVENANCE does not record its resize: across plausible
  // resize conventions the QDQ bus bottom edge moves between 745 and 772 px.
  // The dynamic models are stable to a few pixels.
  for (const [file, tolerance] of [['yolov8n_int8_dynamic.onnx', 10], ['yolov8n_int8_qdq.onnx', 30], ['yolo11n_int8_dynamic_320.onnx', 10]] as const) {
    it(`${file} finds 1 bus and ≥3 persons on bus.jpg where PROVENANCE says`, async () => {
      const detector = await Detector.create(model(file), { names });
      try {
        const { detections } = await detector.detect(bus);
        const count = (c: number) => detections.filter((d) => d.classId === c).length;
        expect(count(5)).toBe(1);
        expect(count(0)).toBeGreaterThanOrEqual(3);
        for (const [cls, ...ref] of BUS_REFERENCE[file]) {
          const best = detections.filter((d) => d.classId === cls).sort((a, b) => iou(b.box, ref) - iou(a.box, ref))[0];
          const worst = Math.max(...best.box.map((v, i) => Math.abs(v - ref[i])));
          expect(worst, `${names[cls]} [${best.box.map(Math.round)}] vs [${ref}]`).toBeLessThanOrEqual(tolerance);
        }
      } finally {
        await detector.release();
      }
    });
  }

  it('the broken qlinear model finds nothing, and says its output is empty rather than the image', async () => {
    const detector = await Detector.create(model('yolov8n_int8_qlinear_broken.onnx'));
    try {
      const r = await detector.detect(bus);
      expect(r.detections).toEqual([]);
      expect(r.warning).toMatch(/every class score is 0 or NaN/);
    } finally {
      await detector.release();
    }
  });

  it('evaluates coco8 against its labels with a plausible mAP', async () => {
    const detector = await Detector.create(model('yolo11n_int8_dynamic_320.onnx'));
    try {
      const progress: number[] = [];
      const r = await evaluateMap(detector, await loadDataset(fixture('coco8')), { onProgress: (done) => progress.push(done) });
      expect(progress).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
      expect([r.images, r.instances]).toEqual([8, 30]);
      expect(r.map50).toBeGreaterThan(0.2);
      expect(r.map50).toBeLessThan(0.95);
      expect(r.map50_95).toBeLessThan(r.map50);
      expect(r.map50_95).toBeGreaterThan(0.1);
    } finally {
      await detector.release();
    }
  });

  it('fidelity of a model against itself is exactly 1; a broken candidate scores 0', async () => {
    const good = await Detector.create(model('yolo11n_int8_dynamic_320.onnx'));
    const broken = await Detector.create(model('yolov8n_int8_qlinear_broken.onnx'));
    try {
      const images = (await loadDataset(fixture('coco8'))).items.map((i) => i.imagePath);
      const self = await evaluateFidelity(good, good, images);
      expect(self.fidelity).toBe(1);
      expect(self.map50).toBe(1);
      const two = [fixture('images', 'bus.jpg'), fixture('images', 'zidane.jpg')];
      expect((await evaluateFidelity(broken, good, two)).fidelity).toBe(0);
      await expect(evaluateFidelity(good, broken, two)).rejects.toThrow(EvaluationError);
    } finally {
      await good.release();
      await broken.release();
    }
  });

  it('mAP needs labels: a plain image folder is refused', async () => {
    const detector = await Detector.create(model('yolo11n_int8_dynamic_320.onnx'));
    try {
      await expect(evaluateMap(detector, await loadDataset(path.dirname(fixture('images', 'bus.jpg'))))).rejects.toThrow(/no labels folder/);
    } finally {
      await detector.release();
    }
  });
});
