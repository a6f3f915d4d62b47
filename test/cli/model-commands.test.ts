import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture, fixturesSkipReason, haveFixtures } from '../fixtures.js';
import { runCli } from '../helpers/cli.js';

/** A 200×150 PNG with a few flat rectangles: something to letterbox and detect on. */
function writePng(file: string): void {
  const png = new PNG({ width: 200, height: 150 });
  for (let y = 0; y < 150; y++) {
    for (let x = 0; x < 200; x++) {
      const i = (y * 200 + x) * 4;
      const inBox = x > 40 && x < 120 && y > 30 && y < 110;
      png.data[i] = inBox ? 200 : 30;
      png.data[i + 1] = inBox ? 60 : 120;
      png.data[i + 2] = (x + y) % 255;
      png.data[i + 3] = 255;
    }
  }
  writeFileSync(file, PNG.sync.write(png));
}

describe('model commands end to end, on a builder model', () => {
  let dir: string;
  let model: string;
  let image: string;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'edgefit-cli-'));
    model = path.join(dir, 'n160.onnx');
    image = path.join(dir, 'frame.png');
    writePng(image);
    const built = await runCli(['model', 'build', 'yolov8n', '--imgsz', '160', '--nc', '3', '-o', model]);
    expect(built.code, built.output).toBe(0);
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('model info --json describes the built model', async () => {
    const { code, output } = await runCli(['model', 'info', model, '--json']);
    expect(code, output).toBe(0);
    const info = JSON.parse(output) as { parameters: number; inputs: Array<{ name: string; shape: unknown[] }>; weightFormat: string };
    expect(info.inputs[0]).toMatchObject({ name: 'images', shape: [1, 3, 160, 160] });
    expect(info.weightFormat).toBe('fp32');
    expect(info.parameters).toBeGreaterThan(3_000_000);
  });

  it('detect --json answers per image, and names an unreadable image without stopping', async () => {
    const garbage = path.join(dir, 'garbage.jpg');
    writeFileSync(garbage, 'not an image');
    const { code, output } = await runCli(['detect', model, image, garbage, '--json']);
    expect(code).toBe(1);
    expect(output).toMatch(/garbage\.jpg/);
    const ok = await runCli(['detect', model, image, '--json']);
    expect(ok.code, ok.output).toBe(0);
    expect(() => JSON.parse(ok.output)).not.toThrow();
  });

  it('model fp16 keeps float32 inputs and outputs unless --fp16-io, and detect runs on both', async () => {
    const detections: number[] = [];
    for (const [flags, type] of [[[], 'float32'], [['--fp16-io'], 'float16']] as const) {
      const half = path.join(dir, `half-${type}.onnx`);
      const converted = await runCli(['model', 'fp16', model, ...flags, '-o', half, '--json']);
      expect(converted.code, converted.output).toBe(0);
      expect(JSON.parse(converted.output)).toMatchObject({ keepIoFloat: type === 'float32' });
      const info = JSON.parse((await runCli(['model', 'info', half, '--json'])).output) as { inputs: Array<{ type: string }>; outputs: Array<{ type: string }> };
      expect([info.inputs[0].type, info.outputs[0].type]).toEqual([type, type]);
      const detected = await runCli(['detect', half, image, '--conf', '0.001', '--json']);
      expect(detected.code, detected.output).toBe(0);
      detections.push((JSON.parse(detected.output) as { images: Array<{ detections: unknown[] }> }).images[0].detections.length);
    }
    // the same weights and compute: the edges' precision moves scores by a rounding, not the detections
    expect(detections[0]).toBeGreaterThan(0);
    expect(Math.abs(detections[0] - detections[1])).toBeLessThanOrEqual(Math.max(2, detections[0] * 0.05));
    const both = await runCli(['model', 'fp16', model, '--keep-io-float', '--fp16-io', '-o', path.join(dir, 'never.onnx')]);
    expect(both.code).toBe(2);
    expect(both.output).toMatch(/--keep-io-float and --fp16-io contradict each other/);
  });

  it('answers bad input with a clear error and the right status', async () => {
    const notOnnx = path.join(dir, 'bad.onnx');
    writeFileSync(notOnnx, 'hello');
    const info = await runCli(['model', 'info', notOnnx]);
    expect(info.code).toBe(1);
    expect(info.output).toMatch(/not an ONNX model/);
    const evalNoLabels = await runCli(['eval', model, '--data', dir]);
    expect(evalNoLabels.code).toBe(1);
    expect(evalNoLabels.output).toMatch(/no YOLO labels/);
    const emptyCalib = mkdtempSync(path.join(dir, 'empty-'));
    const quantize = await runCli(['quantize', model, '--calib', emptyCalib, '-o', path.join(dir, 'q.onnx')]);
    expect(quantize.code).toBe(1);
    expect(quantize.output).toMatch(/no JPEG or PNG images/);
    const badFlag = await runCli(['model', 'build', 'yolov8q', '-o', path.join(dir, 'x.onnx')]);
    expect(badFlag.code).toBe(2);
  });
});

describe.skipIf(!haveFixtures)(`edgefit detect and eval on the real models (${fixturesSkipReason})`, () => {
  it('finds the bus and the people on bus.jpg', async () => {
    const { code, output } = await runCli(['detect', fixture('models', 'yolov8n_int8_qdq.onnx'), fixture('images', 'bus.jpg'), '--json']);
    expect(code, output).toBe(0);
    const text = JSON.stringify(JSON.parse(output));
    expect(text).toMatch(/"bus"/);
    expect((text.match(/"person"/g) ?? []).length).toBeGreaterThanOrEqual(3);
  });

  it('eval with --baseline reports mAP and fidelity on coco8', async () => {
    const { code, output } = await runCli(['eval', fixture('models', 'yolov8n_int8_dynamic.onnx'), '--data', fixture('coco8'), '--baseline', fixture('models', 'yolov8n_int8_qdq.onnx'), '--json']);
    expect(code, output).toBe(0);
    const result = JSON.parse(output) as Record<string, unknown>;
    expect(JSON.stringify(result)).toMatch(/fidelity/);
  });
});
