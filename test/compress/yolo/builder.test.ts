import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import * as ort from 'onnxruntime-node';
import { writeModel } from '../../../compress/onnx/write.js';
import { readModel } from '../../../compress/onnx/read.js';
import { inferShapes } from '../../../compress/onnx/shapes.js';
import { modelCost } from '../../../compress/cost.js';
import { buildYolov8, convParameterCount, parseYolov8Name, type Yolov8Options } from '../../../compress/yolo/builder.js';
import { anchorGrid } from '../../../compress/yolo/detect-head.js';
import type { Model } from '../../../compress/onnx/ir.js';
import { run as modelBuild } from '../../../cli/model-build.js';
import { UsageError } from '../../../cli/args.js';

// ultralytics' fused YOLOv8 parameter counts (model.info() after fuse, nc=80).
const FUSED_PARAMS = { n: 3_151_904, s: 11_156_544, m: 25_886_080, l: 43_668_288, x: 68_200_608 } as const;
// ultralytics' GFLOPs at 640 for the same models (thop MACs × 2).
const GFLOPS_640 = { n: 8.7, s: 28.6, m: 78.9, l: 165.2, x: 257.8 } as const;
// yolov8-p6.yaml scale comments, fused.
const FUSED_PARAMS_P6_N = 4_976_656;
// Published unfused YOLOv8n-p2 summary (no fused figure is published).
const UNFUSED_PARAMS_P2_N = 3_354_144;

async function run(model: Model, seedInput = 1): Promise<ort.Tensor> {
  const session = await ort.InferenceSession.create(writeModel(model));
  const [, , h, w] = model.graph.inputs[0].shape as number[];
  const data = new Float32Array(3 * h * w);
  // A smooth deterministic image in [0, 1], like a /255 letterboxed input.
  for (let i = 0; i < data.length; i++) data[i] = 0.5 + 0.5 * Math.sin(i * 0.001 * seedInput);
  const out = await session.run({ images: new ort.Tensor('float32', data, [1, 3, h, w]) });
  await session.release();
  return out.output0;
}

function expectSaneDetections(out: ort.Tensor, nc: number, imgsz: number): void {
  const [, rows, n] = out.dims;
  const v = out.data as Float32Array;
  expect(v.findIndex((x) => !Number.isFinite(x))).toBe(-1);
  // Rows 0-3: cx, cy, w, h in input pixels; DFL bounds every side by 15 strides.
  for (let a = 0; a < n; a += 97) {
    expect(v[2 * n + a]).toBeGreaterThanOrEqual(0);
    expect(v[3 * n + a]).toBeGreaterThanOrEqual(0);
    expect(Math.abs(v[a])).toBeLessThan(imgsz * 2);
  }
  for (let r = 4; r < rows; r++) {
    for (let a = 0; a < n; a += 113) {
      expect(v[r * n + a]).toBeGreaterThan(0);
      // ultralytics' class-bias prior keeps untrained scores under the usual 0.25 threshold.
      expect(v[r * n + a]).toBeLessThan(0.25);
    }
  }
  expect(rows).toBe(4 + nc);
}

describe('buildYolov8 parameter counts and FLOPs', () => {
  for (const scale of ['n', 's', 'm', 'l', 'x'] as const) {
    it(`yolov8${scale} matches ultralytics' fused parameters and GFLOPs at 640`, () => {
      const model = buildYolov8({ scale });
      expect(convParameterCount(model.graph)).toBe(FUSED_PARAMS[scale]);
      const cost = modelCost(model);
      expect(cost.unknownShapes).toEqual([]);
      expect(cost.parameters).toBe(FUSED_PARAMS[scale]);
      expect(Math.abs(cost.gflops / GFLOPS_640[scale] - 1)).toBeLessThan(0.01);
    });
  }

  it('yolov8n-p6 matches the yolov8-p6.yaml fused count', () => {
    expect(convParameterCount(buildYolov8({ scale: 'n', head: 'p6' }).graph)).toBe(FUSED_PARAMS_P6_N);
  });

  it('yolov8n-p2 matches the published count less its BatchNorm vectors', () => {
    const model = buildYolov8({ scale: 'n', head: 'p2', imgsz: 64 });
    const bnChannels = model.graph.nodes
      .filter((n) => n.opType === 'Conv' && n.name.endsWith('/conv/Conv') && !n.name.includes('/dfl/'))
      .reduce((sum, n) => sum + model.graph.initializers.get(n.inputs[1])!.dims[0], 0);
    // Fusing turns each Conv module's BatchNorm (weight + bias) into one conv bias.
    expect(convParameterCount(model.graph) + bnChannels).toBe(UNFUSED_PARAMS_P2_N);
    expect(convParameterCount(model.graph)).toBe(3_348_240);
  });

  it('nc changes only the class branch outputs while c3 stays at ch0', () => {
    // cv3.i.2 is Conv2d(c3, nc, 1) with bias at each of 3 levels; c3 = max(64, min(nc, 100)) = 64 for n up to nc 64.
    const delta = convParameterCount(buildYolov8({ scale: 'n', nc: 60, imgsz: 64 }).graph) - convParameterCount(buildYolov8({ scale: 'n', nc: 20, imgsz: 64 }).graph);
    expect(delta).toBe(3 * 40 * (64 + 1));
  });
});

describe('buildYolov8 graph layout', () => {
  const model = buildYolov8({ scale: 'n', imgsz: 320 });
  const g = model.graph;
  const names = new Set(g.nodes.map((n) => n.name));

  it('uses ultralytics export names, opset 17 and IR 8', () => {
    for (const n of ['/model.0/conv/Conv', '/model.2/cv1/conv/Conv', '/model.2/cv1/act/Sigmoid', '/model.2/cv1/act/Mul', '/model.2/Split',
      '/model.2/m.0/Add', '/model.9/m_2/MaxPool', '/model.10/Resize', '/model.22/cv2.0/cv2.0.2/Conv', '/model.22/dfl/conv/Conv', '/model.22/dfl/Softmax']) {
      expect(names, n).toContain(n);
    }
    expect(g.initializers.has('model.2.cv1.conv.weight')).toBe(true);
    expect(g.initializers.has('model.22.cv3.2.2.bias')).toBe(true);
    expect(model.opsetImports).toEqual([{ domain: '', version: 17 }]);
    expect(model.irVersion).toBe(8);
    expect(g.inputs[0]).toMatchObject({ name: 'images', shape: [1, 3, 320, 320] });
    expect(g.outputs[0]).toMatchObject({ name: 'output0', shape: [1, 84, 2100] });
  });

  it('has every SiLU as Sigmoid·x and shortcut Adds only in the backbone', () => {
    const count = (op: string) => g.nodes.filter((n) => n.opType === op).length;
    // 57 Conv+SiLU, one final Conv per branch (6) and the DFL conv.
    expect(count('Conv')).toBe(64);
    expect(count('Sigmoid')).toBe(57 + 1);
    const adds = g.nodes.filter((n) => n.opType === 'Add' && n.name.includes('/m.'));
    expect(adds.map((n) => n.name.split('/')[1]).sort()).toEqual(['model.2', 'model.4', 'model.4', 'model.6', 'model.6', 'model.8']);
  });

  it('bakes the DFL arange weights and the anchor grid', () => {
    expect(Array.from(g.initializers.get('model.22.dfl.conv.weight')!.data as Float32Array)).toEqual(Array.from({ length: 16 }, (_, i) => i));
    const grid = anchorGrid(64, [8, 16, 32]);
    expect(grid.count).toBe(64 + 16 + 4);
    // Level 0 row-major: second anchor is (1.5, 0.5); first of level 1 is (0.5, 0.5) at stride 16.
    expect([grid.points[1], grid.points[grid.count + 1]]).toEqual([1.5, 0.5]);
    expect([grid.points[64], grid.strides[64], grid.strides[63]]).toEqual([0.5, 16, 8]);
  });

  it('marks itself synthetic in ultralytics-style metadata', () => {
    expect(model.metadata.get('edgefit.synthetic')).toBe('true');
    expect(model.metadata.get('imgsz')).toBe('[320, 320]');
    expect(model.metadata.get('stride')).toBe('32');
    expect(model.metadata.get('task')).toBe('detect');
    expect(model.metadata.get('names')).toMatch(/^\{0: 'class0', 1: 'class1', .* 79: 'class79'\}$/);
    expect(buildYolov8({ scale: 'n', head: 'p6', imgsz: 128 }).metadata.get('stride')).toBe('64');
  });

  it('has a static shape for every value', () => {
    const types = inferShapes(model);
    for (const node of g.nodes) {
      for (const out of node.outputs) expect(types.get(out)?.shape?.every((d) => typeof d === 'number'), out).toBe(true);
    }
    expect(types.get('/model.22/dfl/Softmax_output_0')?.shape).toEqual([1, 16, 4, 2100]);
    expect(types.get('output0')?.shape).toEqual([1, 84, 2100]);
  });

  it('survives a write/read round trip', () => {
    const back = readModel(writeModel(model));
    expect(back.graph.nodes.length).toBe(g.nodes.length);
    expect(convParameterCount(back.graph)).toBe(FUSED_PARAMS.n);
  });
});

describe('buildYolov8 in onnxruntime', () => {
  const cases: Array<[Yolov8Options, number[]]> = [
    [{ scale: 'n' }, [1, 84, 8400]],
    [{ scale: 'n', imgsz: 320 }, [1, 84, 2100]],
    [{ scale: 'n', head: 'p2', imgsz: 128, nc: 3 }, [1, 7, 32 * 32 + 16 * 16 + 8 * 8 + 4 * 4]],
    [{ scale: 'n', head: 'p6', imgsz: 128 }, [1, 84, 16 * 16 + 8 * 8 + 4 * 4 + 2 * 2]],
  ];
  for (const [opts, dims] of cases) {
    it(`${opts.scale}${opts.head ? '-' + opts.head : ''} at ${opts.imgsz ?? 640} gives ${dims.join('x')}`, async () => {
      const out = await run(buildYolov8(opts));
      expect(out.dims).toEqual(dims);
      expectSaneDetections(out, opts.nc ?? 80, opts.imgsz ?? 640);
    });
  }
});

describe('buildYolov8 determinism and validation', () => {
  it('gives identical bytes for one seed and different weights for another', () => {
    const a = writeModel(buildYolov8({ scale: 'n', imgsz: 320, seed: 7 }));
    const b = writeModel(buildYolov8({ scale: 'n', imgsz: 320, seed: 7 }));
    const c = buildYolov8({ scale: 'n', imgsz: 320, seed: 8 });
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
    expect(Buffer.from(a).equals(Buffer.from(writeModel(c)))).toBe(false);
    expect(c.metadata.get('edgefit.seed')).toBe('8');
  });

  it('rejects input sizes off the stride grid and bad class counts', () => {
    expect(() => buildYolov8({ scale: 'n', imgsz: 300 })).toThrow(/multiple of 32/);
    expect(() => buildYolov8({ scale: 'n', head: 'p6', imgsz: 352 })).toThrow(/multiple of 64/);
    expect(() => buildYolov8({ scale: 'n', nc: 0 })).toThrow(/nc must be/);
    expect(() => buildYolov8({ scale: 'n', nc: 2.5 })).toThrow(/nc must be/);
    expect(() => buildYolov8({ scale: 'q' as 'n' })).toThrow(/scale must be/);
  });

  it('parses model names', () => {
    expect(parseYolov8Name('yolov8m')).toEqual({ scale: 'm', head: 'p3-p5' });
    expect(parseYolov8Name('yolov8x-p6')).toEqual({ scale: 'x', head: 'p6' });
    expect(parseYolov8Name('yolov8n-p2')).toEqual({ scale: 'n', head: 'p2' });
    expect(parseYolov8Name('yolov8q')).toBeUndefined();
    expect(parseYolov8Name('yolov8n-p7')).toBeUndefined();
  });
});

describe('edgefit model build', () => {
  it('writes the model and reports it as JSON', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'edgefit-build-'));
    const out = path.join(dir, 'sub', 'n2.onnx');
    const write = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      await modelBuild(['yolov8n-p2', '--imgsz', '64', '--nc', '5', '--seed', '3', '-o', out, '--json']);
      const report = JSON.parse(String(write.mock.calls.map((c) => c[0]).join('')));
      expect(report).toMatchObject({ model: 'yolov8n-p2', path: out, nc: 5, imgsz: 64, seed: 3, output: [1, 9, 16 * 16 + 8 * 8 + 4 * 4 + 2 * 2], synthetic: true });
      const back = readModel(readFileSync(out));
      expect(convParameterCount(back.graph)).toBe(report.params);
      expect(back.metadata.get('edgefit.arch')).toBe('yolov8n-p2');
    } finally {
      write.mockRestore();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('answers bad names and flags with usage errors', async () => {
    await expect(modelBuild(['yolov8z', '-o', 'x.onnx'])).rejects.toThrow(UsageError);
    await expect(modelBuild(['yolov8n', '--imgsz', '100', '-o', 'x.onnx'])).rejects.toThrow(/multiple of 32/);
    await expect(modelBuild(['yolov8n-p6', '--imgsz', '96', '-o', 'x.onnx'])).rejects.toThrow(/multiple of 64/);
    await expect(modelBuild(['yolov8n', '--nc', '0', '-o', 'x.onnx'])).rejects.toThrow(/--nc/);
    await expect(modelBuild(['yolov8n'])).rejects.toThrow(/--out is required/);
  });
});
