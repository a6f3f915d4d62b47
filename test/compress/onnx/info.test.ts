import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { readModelFile } from '../../../compress/onnx/read.js';
import { modelInfo } from '../../../compress/onnx/info.js';
import { parsePythonNames } from '../../../compress/onnx/metadata.js';
import { writeModelFile } from '../../../compress/onnx/write.js';
import { fixture, fixturesSkipReason, haveFixtures } from '../../fixtures.js';
import { handBuiltModel } from './helpers.js';
import { dispatched } from '../../helpers/cli.js';

async function capture(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [], err: string[] = [];
  const w = process.stdout.write, e = process.stderr.write;
  process.stdout.write = ((s: string) => (out.push(s), true)) as typeof process.stdout.write;
  process.stderr.write = ((s: string) => (err.push(s), true)) as typeof process.stderr.write;
  try {
    const code = await dispatched('model info', argv);
    return { code, out: out.join(''), err: err.join('') };
  } finally {
    process.stdout.write = w;
    process.stderr.write = e;
  }
}

describe('Ultralytics metadata', () => {
  it('parses the names dict, including quotes Python switches for apostrophes', () => {
    expect(parsePythonNames(`{0: 'person', 1: "child's toy", 2: 'a\\'b'}`)).toEqual({ 0: 'person', 1: "child's toy", 2: "a'b" });
    expect(parsePythonNames('{}')).toEqual({});
    expect(parsePythonNames("{0: 'person'")).toBeUndefined();
    expect(parsePythonNames('["person"]')).toBeUndefined();
  });
});

describe('model info', () => {
  it('describes the hand-built model, and the CLI prints it as a table and as JSON', async () => {
    const info = modelInfo(handBuiltModel());
    expect(info.weightFormat).toBe('fp32');
    expect(info.parameters).toBe(8 * 27 + 8);
    expect(info.inputs).toEqual([{ name: 'images', type: 'float32', shape: [1, 3, 32, 32] }]);
    expect(info.outputs).toEqual([{ name: 'output0', type: 'float32', shape: [1, 63, 8] }]);
    expect(info.ultralytics).toEqual({ names: { 0: 'person', 1: 'bicycle' }, imgsz: [32, 32] });
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'edgefit-info-')), 'm.onnx');
    writeModelFile(handBuiltModel(), file);
    const table = await capture([file]);
    expect(table.code).toBe(0);
    expect(table.out).toMatch(/format\s+fp32/);
    expect(table.out).toMatch(/output\s+output0 float32 \[1, 63, 8\]/);
    const json = await capture([file, '--json']);
    expect(JSON.parse(json.out)).toMatchObject({ parameters: 224, weightFormat: 'fp32', ultralytics: { names: { 0: 'person' } } });
  });

  it('answers a non-ONNX file with a clear error and status 1', async () => {
    const text = path.join(mkdtempSync(path.join(tmpdir(), 'edgefit-info-')), 'notes.onnx');
    writeFileSync(text, '# not a model\njust some text\n');
    const r = await capture([text]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/not an ONNX model|truncated/);
  });
});

describe.skipIf(!haveFixtures)(`model info on fixtures (${fixturesSkipReason})`, () => {
  // Ultralytics' own summaries for the fused models: YOLOv8n 3,151,904 params / 8.7 GFLOPs at 640,
  // YOLO11n 2,616,248 params / 6.5 GFLOPs at 640 (so 1.6 at 320).
  const cases = [
    ['yolov8n_int8_qdq.onnx', 'qdq-int8', 3_151_904, 8.7, 640, 607, '8.4.6'],
    ['yolov8n_pruned_int8_qdq.onnx', 'qdq-int8', 2_716_152, 7.6, 640, 607, '8.4.6'],
    ['yolov8n_int8_dynamic.onnx', 'dynamic-int8', 3_151_904, 8.7, 640, 610, '8.4.115'],
    ['yolo11n_int8_dynamic_320.onnx', 'dynamic-int8', 2_616_248, 1.6, 320, 839, '8.4.21'],
    ['yolov8n_int8_qlinear_broken.onnx', 'qoperator-int8', 3_151_904, 8.7, 640, 307, '8.0.232'],
  ] as const;
  for (const [file, format, params, gflops, size, nodes, version] of cases) {
    it(`${file}: ${format}, ${params} parameters, ${gflops} GFLOPs`, async () => {
      const info = modelInfo(readModelFile(fixture('models', file)));
      expect(info.weightFormat).toBe(format);
      expect(info.parameters).toBe(params);
      expect(info.gflops).toBeCloseTo(gflops, 1);
      expect(info.nodes).toBe(nodes);
      expect(info.inputs).toEqual([{ name: 'images', type: 'float32', shape: [1, 3, size, size] }]);
      expect(info.outputs).toEqual([{ name: 'output0', type: 'float32', shape: [1, 84, (size / 8) ** 2 + (size / 16) ** 2 + (size / 32) ** 2] }]);
      expect(info.ultralytics).toMatchObject({ task: 'detect', stride: 32, imgsz: [size, size], version });
      expect(Object.keys(info.ultralytics.names!)).toHaveLength(80);
      expect(info.ultralytics.names![0]).toBe('person');
      expect(info.ultralytics.names![79]).toBe('toothbrush');
      const r = await capture([fixture('models', file)]);
      expect(r.code).toBe(0);
      expect(r.out).toContain('classes');
    });
  }
});
