import { describe, expect, it } from 'vitest';
import { chmodSync, lstatSync, mkdtempSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { ModelFormatError, readModel, readModelFile } from '../../../compress/onnx/read.js';
import { writeModel, writeModelFile } from '../../../compress/onnx/write.js';
import { ModelProto } from '../../../compress/onnx/schema.js';
import { DataType } from '../../../compress/onnx/ir.js';
import { fixture, fixturesSkipReason, haveFixtures } from '../../fixtures.js';
import { handBuiltModel, syntheticImage } from './helpers.js';

async function outputs(bytes: Uint8Array, size: number): Promise<Record<string, ort.Tensor>> {
  const session = await ort.InferenceSession.create(bytes);
  try {
    return (await session.run({ images: syntheticImage(size) })) as Record<string, ort.Tensor>;
  } finally {
    await session.release();
  }
}

function expectBitExact(a: Record<string, ort.Tensor>, b: Record<string, ort.Tensor>): void {
  expect(Object.keys(b)).toEqual(Object.keys(a));
  for (const k of Object.keys(a)) {
    expect(b[k].dims).toEqual(a[k].dims);
    const x = a[k].data as Float32Array, y = b[k].data as Float32Array;
    expect(Buffer.from(y.buffer, y.byteOffset, y.byteLength).equals(Buffer.from(x.buffer, x.byteOffset, x.byteLength))).toBe(true);
  }
}

function expectError(bytes: Uint8Array, pattern: RegExp): void {
  let caught: unknown;
  try {
    readModel(bytes);
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(ModelFormatError);
  expect((caught as Error).message).toMatch(pattern);
  expect((caught as Error).message).not.toMatch(/at .*protobufjs/);
}

describe('readModel / writeModel', () => {
  it('round-trips the hand-built model losslessly, IR and onnxruntime outputs', async () => {
    const model = handBuiltModel();
    const bytes = writeModel(model);
    const back = readModel(bytes);
    expect(back).toEqual(model);
    expect(writeModel(back)).toEqual(bytes);
    const half = back.graph.initializers.get('half_scale')!;
    expect(half.data).toBeInstanceOf(Uint16Array);
    expect(Array.from(half.data as Uint16Array)).toContain(0x7bff);
    expect((back.graph.initializers.get('ends')!.data as BigInt64Array)[0]).toBe(9223372036854775807n);
    const out = await outputs(bytes, 32);
    expect(out.output0.dims).toEqual([1, 63, 8]);
    expectBitExact(out, await outputs(writeModel(readModel(bytes)), 32));
  });

  it('keeps INT64_MAX in int attributes instead of wrapping it', () => {
    const model = handBuiltModel();
    model.graph.nodes[0].attributes.set('edgefit_big', { type: 'int', value: 9223372036854775807 });
    const back = readModel(writeModel(model));
    expect(back.graph.nodes[0].attributes.get('edgefit_big')).toEqual({ type: 'int', value: 2 ** 63 });
  });

  it('reads typed data fields (float_data, int64_data, int32_data for float16)', () => {
    const bytes = ModelProto.encode({
      irVersion: 8,
      opsetImport: [{ domain: '', version: 17 }],
      graph: {
        name: 'g',
        initializer: [
          { name: 'f', dataType: DataType.FLOAT, dims: [2], floatData: [1.5, -2] },
          { name: 'i', dataType: DataType.INT64, dims: [2], int64Data: [7, -3] },
          { name: 'h', dataType: DataType.FLOAT16, dims: [1], int32Data: [0x3c00] },
        ],
      },
    }).finish();
    const g = readModel(bytes).graph;
    expect(Array.from(g.initializers.get('f')!.data as Float32Array)).toEqual([1.5, -2]);
    expect(Array.from(g.initializers.get('i')!.data as BigInt64Array)).toEqual([7n, -3n]);
    expect(Array.from(g.initializers.get('h')!.data as Uint16Array)).toEqual([0x3c00]);
  });

  it('writes and reads files', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'edgefit-onnx-'));
    const file = path.join(dir, 'm.onnx');
    writeModelFile(handBuiltModel(), file);
    expect(readModelFile(file)).toEqual(handBuiltModel());
  });

  it('writes a model through a symlink to its target and keeps the mode of the file it replaces', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'edgefit-onnx-'));
    const target = path.join(dir, 'real.onnx');
    writeFileSync(target, 'old');
    chmodSync(target, 0o640);
    const link = path.join(dir, 'link.onnx');
    symlinkSync(target, link);
    writeModelFile(handBuiltModel(), link);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readModelFile(target)).toEqual(handBuiltModel());
    expect(statSync(target).mode & 0o777).toBe(0o640);
    expect(readdirSync(dir).sort()).toEqual(['link.onnx', 'real.onnx']);
  });

  it('rejects garbage, text and empty files with ModelFormatError', () => {
    expectError(new Uint8Array(0), /empty/);
    expectError(new TextEncoder().encode('this is not a model, just some text\n'), /not an ONNX model/);
    const noise = new Uint8Array(4096);
    let s = 7;
    for (let i = 0; i < noise.length; i++) noise[i] = (s = (s * 1103515245 + 12345) >>> 0) >>> 24;
    expectError(noise, /not an ONNX model|truncated/);
    expectError(Uint8Array.from([0xff, 0xd8, 0xff, 0xe0, 0, 16, 0x4a, 0x46, 0x49, 0x46]), /not an ONNX model|truncated/);
  });

  it('rejects a model without a graph', () => {
    expectError(ModelProto.encode({ irVersion: 8, opsetImport: [{ domain: '', version: 17 }] }).finish(), /no graph/);
  });

  it('names the tensor and side file of external data', () => {
    const bytes = ModelProto.encode({
      irVersion: 8,
      opsetImport: [{ domain: '', version: 17 }],
      graph: {
        name: 'g',
        initializer: [{
          name: 'model.0.conv.weight', dataType: DataType.FLOAT, dims: [16, 3, 3, 3], dataLocation: 1,
          externalData: [{ key: 'location', value: 'yolov8n.onnx.data' }, { key: 'offset', value: '0' }],
        }],
      },
    }).finish();
    expectError(bytes, /external data.*'model\.0\.conv\.weight'.*'yolov8n\.onnx\.data'/);
  });

  it('reports a missing file as ModelFormatError', () => {
    expect(() => readModelFile('/nonexistent/edgefit.onnx')).toThrow(/cannot read model file.*ENOENT/);
  });
});

describe.skipIf(!haveFixtures)(`round trip on fixtures (${fixturesSkipReason})`, () => {
  const files = [
    ['yolov8n_int8_qdq.onnx', 640],
    ['yolov8n_pruned_int8_qdq.onnx', 640],
    ['yolov8n_int8_dynamic.onnx', 640],
    ['yolo11n_int8_dynamic_320.onnx', 320],
    ['yolov8n_int8_qlinear_broken.onnx', 640],
  ] as const;
  for (const [file, size] of files) {
    it(`${file}: read→write→read is lossless and onnxruntime outputs are bit-identical`, async () => {
      const original = new Uint8Array(readFileSync(fixture('models', file)));
      const model = readModel(original);
      const rewritten = writeModel(model);
      // writeModel is a pure function of the IR: equal bytes mean an equal IR, and
      // comparing 3M-element typed arrays through toEqual would take seconds.
      expect(Buffer.from(writeModel(readModel(rewritten))).equals(Buffer.from(rewritten))).toBe(true);
      expect(readModel(rewritten).graph.nodes.length).toBe(model.graph.nodes.length);
      expectBitExact(await outputs(original, size), await outputs(rewritten, size));
    });
  }

  it('rejects a truncated fixture with a clear message', () => {
    const bytes = readFileSync(fixture('models', 'yolov8n_int8_qdq.onnx'));
    for (const cut of [100, 1_000_000, bytes.length - 10]) {
      expectError(new Uint8Array(bytes.subarray(0, cut)), /truncated|no graph/);
    }
  });
});
