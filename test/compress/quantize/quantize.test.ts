import { describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { PNG } from 'pngjs';
import { buildYolov8 } from '../../../compress/yolo/builder.js';
import { quantizeModel, QuantizeError } from '../../../compress/quantize/quantize.js';
import type { CalibrationSet } from '../../../compress/calibration.js';
import { weightFormat } from '../../../compress/onnx/info.js';
import { runModel } from '../../../compress/onnx/session.js';
import { readModelFile } from '../../../compress/onnx/read.js';
import { writeModelFile } from '../../../compress/onnx/write.js';
import { readLineage } from '../../../compress/lineage.js';
import { run } from '../../../cli/quantize.js';
import { commandSpec, dispatched } from '../../helpers/cli.js';
import { UsageError } from '../../../cli/args.js';
import { integerKernelCount, optimizedOps } from './integer-kernels.js';

const SIZE = 160;

/** Smooth synthetic images: gradients with a bright square, as letterboxed tensors. */
function syntheticCalibration(count: number): CalibrationSet {
  const inputs = Array.from({ length: count }, (_, k) => {
    const t = new Float32Array(3 * SIZE * SIZE);
    for (let c = 0; c < 3; c++) {
      for (let y = 0; y < SIZE; y++) {
        for (let x = 0; x < SIZE; x++) {
          const inSquare = Math.abs(x - 40 - 20 * k) < 20 && Math.abs(y - 80) < 25;
          t[(c * SIZE + y) * SIZE + x] = inSquare ? 0.9 : ((x + y * (c + 1) + 37 * k) % SIZE) / SIZE;
        }
      }
    }
    return t;
  });
  return { files: inputs.map((_, i) => `synthetic-${i}`), inputs, size: SIZE };
}

describe('quantize on a builder-made yolov8n', () => {
  const float = buildYolov8({ scale: 'n', imgsz: SIZE });
  const calibration = syntheticCalibration(2);
  const feed = { images: new ort.Tensor('float32', calibration.inputs[0], [1, 3, SIZE, SIZE]) };

  it('gives a QDQ model with the same output shape that onnxruntime runs with QLinearConv kernels; the DFL expectation stays float', async () => {
    const { model, report } = await quantizeModel(float, calibration, { method: 'minmax', perChannel: true });
    expect(weightFormat(model)).toBe('qdq-int8');
    // 57 conv+SiLU less the stem, the six box/class logit read-outs, and the neck's two 1x1 convs over an upsample each split in two
    expect(report.quantizedConvs.length).toBe(64);
    expect(report.floatConvs).toEqual([
      { node: '/model.0/conv/Conv', reason: 'stem conv on the image, with its activation: faster in float (few input channels), and the image needs no QuantizeLinear' },
      { node: '/model.22/dfl/conv/Conv', reason: 'DFL expectation (its output is the box side), kept float' },
    ]);
    expect(report.activations.every((a) => a.scale > 0 && a.zeroPoint >= 0 && a.zeroPoint <= 255)).toBe(true);
    const [a, b] = [(await runModel(float, feed)).output0, (await runModel(model, feed)).output0];
    expect(b.dims).toEqual(a.dims);
    expect((b.data as Float32Array).every(Number.isFinite)).toBe(true);
    const ops = await optimizedOps(model);
    expect(integerKernelCount(ops)).toBeGreaterThanOrEqual(57);
    expect(readLineage(model)?.steps.at(-1)?.method).toBe('quantize-int8-qdq');
  });

  it('entropy and percentile calibration both produce runnable models; --exclude keeps matching convs float', async () => {
    for (const method of ['entropy', 'percentile'] as const) {
      const { model, report } = await quantizeModel(float, calibration, { method, exclude: [/^\/model\.0\//] });
      expect(report.floatConvs.some((c) => c.node === '/model.0/conv/Conv' && c.reason === 'excluded by pattern')).toBe(true);
      expect((await runModel(model, feed)).output0.dims).toEqual([1, 84, 525]);
    }
  });

  it('refuses to quantize when every conv is excluded', async () => {
    await expect(quantizeModel(float, calibration, { exclude: [/./] })).rejects.toThrow(QuantizeError);
  });
});

describe('edgefit quantize CLI', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'edgefit-quantize-'));
  const modelFile = path.join(dir, 'yolov8n-160.onnx');
  writeModelFile(buildYolov8({ scale: 'n', imgsz: SIZE }), modelFile);

  function folder(name: string, files: Record<string, Uint8Array | string>): string {
    const d = path.join(dir, name);
    mkdirSync(d, { recursive: true });
    for (const [f, bytes] of Object.entries(files)) writeFileSync(path.join(d, f), bytes);
    return d;
  }

  function png(width: number, height: number, seed: number): Uint8Array {
    const image = new PNG({ width, height });
    for (let i = 0; i < width * height; i++) {
      image.data[4 * i] = (i * seed) % 256;
      image.data[4 * i + 1] = (i >> 3) % 256;
      image.data[4 * i + 2] = 128;
      image.data[4 * i + 3] = 255;
    }
    return PNG.sync.write(image);
  }

  async function quietly(argv: string[]): Promise<{ code: number | void; stderr: string; stdout: string }> {
    let stderr = '', stdout = '';
    const err = process.stderr.write.bind(process.stderr);
    const out = process.stdout.write.bind(process.stdout);
    process.stderr.write = ((chunk: string) => ((stderr += chunk), true)) as typeof process.stderr.write;
    process.stdout.write = ((chunk: string) => ((stdout += chunk), true)) as typeof process.stdout.write;
    try {
      return { code: await dispatched('quantize', argv), stderr, stdout };
    } finally {
      process.stderr.write = err;
      process.stdout.write = out;
    }
  }

  it('writes a QDQ model with its lineage and a JSON report of the quantized tensors', async () => {
    const calib = folder('good', { 'a.png': png(200, 150, 3), 'b.png': png(120, 160, 7) });
    const out = path.join(dir, 'int8.onnx');
    const r = await quietly([modelFile, '--calib', calib, '--method', 'minmax', '--per-channel', '-o', out, '--json']);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout) as { quantizedConvs: string[]; activations: { name: string }[]; perChannel: boolean };
    expect(report.perChannel).toBe(true);
    // 57 conv+SiLU less the stem, the six box/class logit read-outs (the stem and the DFL expectation stay float), and the two split neck convs' halves
    expect(report.quantizedConvs.length).toBe(64);
    // the image enters the float stem as it is; the first quantized tensor is the stem's SiLU output
    expect(report.activations.some((a) => a.name === 'images')).toBe(false);
    expect(report.activations.some((a) => a.name === '/model.0/act/Mul_output_0')).toBe(true);
    const written = readModelFile(out);
    expect(weightFormat(written)).toBe('qdq-int8');
    expect(readLineage(written)?.steps.map((s) => s.method)).toEqual(['quantize-int8-qdq']);
  });

  it('answers garbage calibration folders with clear errors', async () => {
    const empty = folder('empty', {});
    const text = folder('text', { 'notes.txt': 'hello' });
    const fake = folder('fake', { 'photo.jpg': 'this is not a jpeg' });
    const out = path.join(dir, 'never.onnx');
    const e1 = await quietly([modelFile, '--calib', empty, '-o', out]);
    expect(e1.code).toBe(1);
    expect(e1.stderr).toMatch(/no JPEG or PNG images/);
    expect((await quietly([modelFile, '--calib', text, '-o', out])).stderr).toMatch(/no JPEG or PNG images/);
    const e3 = await quietly([modelFile, '--calib', fake, '-o', out]);
    expect(e3.code).toBe(1);
    expect(e3.stderr).toMatch(/calibration image .*photo\.jpg/);
    expect((await quietly([modelFile, '--calib', path.join(dir, 'missing'), '-o', out])).stderr).toMatch(/no such directory/);
  });

  it('rejects bad flags as usage errors', async () => {
    await expect(run([modelFile, '--calib', dir, '--method', 'kl', '-o', 'x.onnx'], commandSpec('quantize'))).rejects.toThrow(UsageError);
    await expect(run([modelFile, '--calib', dir, '--exclude', '(', '-o', 'x.onnx'], commandSpec('quantize'))).rejects.toThrow(UsageError);
    await expect(run([modelFile, '-o', 'x.onnx'], commandSpec('quantize'))).rejects.toThrow(/--calib is required/);
  });
});
