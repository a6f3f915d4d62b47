import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Lineage } from '../../compress/lineage.js';
import { readModelFile } from '../../compress/onnx/read.js';
import { writeModelFile } from '../../compress/onnx/write.js';
import { buildYolov8 } from '../../compress/yolo/builder.js';
import { edgefitVersion } from '../../protocol/version.js';
import { fixture, fixturesSkipReason, haveFixtures } from '../fixtures.js';
import { runCli } from '../helpers/cli.js';

interface InfoJson {
  producer: string;
  lineage: Lineage | null;
}

async function info(file: string): Promise<{ json: InfoJson; text: string }> {
  const json = await runCli(['model', 'info', file, '--json']);
  expect(json.code, json.output).toBe(0);
  const text = await runCli(['model', 'info', file]);
  expect(text.code, text.output).toBe(0);
  return { json: JSON.parse(json.output) as InfoJson, text: text.output };
}

describe('lineage through the model commands', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'edgefit-lineage-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('model build records its build, which later steps extend; model info shows both', async () => {
    const built = path.join(dir, 'built.onnx');
    const half = path.join(dir, 'built-fp16.onnx');
    expect((await runCli(['model', 'build', 'yolov8n-p2', '--nc', '2', '--imgsz', '64', '--seed', '5', '-o', built])).code).toBe(0);
    const r = await runCli(['model', 'fp16', built, '-o', half]);
    expect(r.code, r.output).toBe(0);

    const { json, text } = await info(half);
    expect(json.producer).toBe(`edgefit ${edgefitVersion()}`);
    expect(json.lineage?.base).toBeNull();
    expect(json.lineage?.steps.map((s) => s.method)).toEqual(['build', 'fp16']);
    expect(json.lineage?.steps[0].params).toEqual({ model: 'yolov8n-p2', scale: 'n', head: 'p2', nc: 2, imgsz: 64, seed: 5, synthetic: true });
    expect(text).toMatch(/^lineage\s+no base file/m);
    expect(text).toMatch(/^\s+1\. build model=yolov8n-p2 .*nc=2 imgsz=64 seed=5/m);
    expect(text).toMatch(/^\s+2\. fp16 keepIoFloat=true/m);
  });

  it('model info says when a file carries no lineage', async () => {
    const plain = path.join(dir, 'plain.onnx');
    writeModelFile(buildYolov8({ scale: 'n', nc: 2, imgsz: 64 }), plain);
    const { json, text } = await info(plain);
    expect(json.lineage).toBeNull();
    expect(text).toMatch(/^lineage\s+-$/m);
  });
});

describe.skipIf(!haveFixtures)(`lineage from a quantized export (${fixturesSkipReason})`, () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'edgefit-lineage-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('QDQ → dequantize → fp16 chains back to the QDQ file, named as edgefit output', async () => {
    const qdq = fixture('models', 'yolov8n_int8_qdq.onnx');
    const qdqSha = createHash('sha256').update(readFileSync(qdq)).digest('hex');
    expect(readModelFile(qdq).producerName).not.toBe('edgefit');
    const float = path.join(dir, 'float.onnx');
    const half = path.join(dir, 'half.onnx');
    const dq = await runCli(['model', 'dequantize', qdq, '-o', float]);
    expect(dq.code, dq.output).toBe(0);
    const h = await runCli(['model', 'fp16', float, '-o', half]);
    expect(h.code, h.output).toBe(0);

    const dequantized = readModelFile(float);
    expect([dequantized.producerName, dequantized.producerVersion]).toEqual(['edgefit', edgefitVersion()]);
    const { json, text } = await info(half);
    expect(json.producer).toBe(`edgefit ${edgefitVersion()}`);
    expect(json.lineage?.base).toBe(qdqSha);
    expect(json.lineage?.steps.map((s) => s.method)).toEqual(['dequantize', 'fp16']);
    expect(json.lineage?.steps[0].params).toEqual({ from: 'qdq-int8', foldedWeights: 127, bypassedActivationPairs: 123, rewrittenConvIntegers: 0 });
    expect(text).toContain(`base ${qdqSha.slice(0, 12)} `);
    expect(text).toMatch(/^\s+1\. dequantize from=qdq-int8 foldedWeights=127/m);
    expect(text).toMatch(/^\s+2\. fp16 /m);
  });

  it('prune and quantize straight from the QDQ file chain back to it too', async () => {
    const qdq = fixture('models', 'yolov8n_int8_qdq.onnx');
    const qdqSha = createHash('sha256').update(readFileSync(qdq)).digest('hex');
    const pruned = path.join(dir, 'pruned.onnx');
    const requantized = path.join(dir, 'requantized.onnx');
    expect((await runCli(['prune', qdq, '--method', 'l1', '--ratio', '0.1', '-o', pruned])).code).toBe(0);
    expect((await runCli(['quantize', qdq, '--calib', fixture('coco8', 'images', 'train'), '-o', requantized])).code).toBe(0);
    for (const file of [pruned, requantized]) {
      const { json } = await info(file);
      expect(json.lineage?.base, file).toBe(qdqSha);
      expect(json.lineage?.steps.map((s) => s.method)[0], file).toBe('dequantize');
    }
    // by default the neck's two 1x1 convs over an upsample's Concat are split, named in the report; --no-split-upsample-convs keeps them whole
    const whole = await runCli(['quantize', qdq, '--calib', fixture('coco8', 'images', 'train'), '--no-split-upsample-convs', '-o', path.join(dir, 'whole.onnx'), '--json']);
    expect(whole.code, whole.output).toBe(0);
    expect(JSON.parse(whole.output).pointwiseBeforeUpsample).toEqual([]);
    const split = await runCli(['quantize', qdq, '--calib', fixture('coco8', 'images', 'train'), '--split-upsample-convs', '-o', path.join(dir, 'split.onnx'), '--json']);
    expect(split.code, split.output).toBe(0);
    expect(JSON.parse(split.output).pointwiseBeforeUpsample).toEqual(['/model.12/cv1/conv/Conv', '/model.15/cv1/conv/Conv']);
  }, 120_000);
});
