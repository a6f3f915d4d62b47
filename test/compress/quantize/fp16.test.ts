import { describe, expect, it } from 'vitest';
import ort from 'onnxruntime-node';
import { buildYolov8 } from '../../../compress/yolo/builder.js';
import { convertToFp16, floatToHalfBits, Fp16Error } from '../../../compress/fp16.js';
import { DataType } from '../../../compress/onnx/ir.js';
import { halfToFloat } from '../../../compress/onnx/tensor.js';
import { weightFormat } from '../../../compress/onnx/info.js';
import { runModel } from '../../../compress/onnx/session.js';
import { readLineage } from '../../../compress/lineage.js';
import { quantizeModel } from '../../../compress/quantize/quantize.js';

describe('float16 bits', () => {
  it('rounds to nearest even and saturates instead of overflowing', () => {
    for (const v of [0, 1, -2.5, 0.1, 65504, 6.1e-5, 3e-7]) expect(Math.abs(halfToFloat(floatToHalfBits(v)) - v)).toBeLessThanOrEqual(Math.abs(v) * 2 ** -11 + 2 ** -25);
    expect(floatToHalfBits(1e6)).toBe(0x7bff);
    expect(floatToHalfBits(1 + 2 ** -11)).toBe(0x3c00);
  });
});

describe('fp16 on a builder-made yolov8n', () => {
  const size = 192;
  const float = buildYolov8({ scale: 'n', imgsz: size });
  const input = Float32Array.from({ length: 3 * size * size }, (_, i) => ((i * 2654435761) % 1000) / 1000);
  const feeds = { images: new ort.Tensor('float32', input, [1, 3, size, size]) };

  it('stores weights in float16, keeps float32 I/O and Resize in float32, runs and matches fp32 closely', async () => {
    const { model, report } = convertToFp16(float);
    expect(weightFormat(model)).toBe('fp16');
    expect(model.graph.inputs[0].elemType).toBe(DataType.FLOAT);
    expect(model.graph.outputs[0].elemType).toBe(DataType.FLOAT);
    expect(report.floatNodes).toBe(2);
    expect(readLineage(model)?.steps.at(-1)?.method).toBe('fp16');
    const [a, b] = [(await runModel(float, feeds)).output0, (await runModel(model, feeds)).output0];
    expect(b.type).toBe('float32');
    expect(b.dims).toEqual(a.dims);
    const x = a.data as Float32Array, y = b.data as Float32Array;
    let worstBox = 0;
    for (let i = 0; i < 4 * x.length / 84; i++) worstBox = Math.max(worstBox, Math.abs(x[i] - y[i]));
    // Box coordinates in input pixels: half precision keeps them within a pixel.
    expect(worstBox).toBeLessThan(1);
  });

  it('with half I/O the model takes and returns float16', async () => {
    const { model } = convertToFp16(float, { keepIoFloat: false });
    expect(model.graph.inputs[0].elemType).toBe(DataType.FLOAT16);
    const half = new ort.Tensor('float16', Uint16Array.from(input, floatToHalfBits), [1, 3, size, size]);
    const out = (await runModel(model, { images: half })).output0;
    expect(out.type).toBe('float16');
    expect(out.dims).toEqual([1, 84, 756]);
  });

  it('refuses an int8 model', async () => {
    const calibration = { files: ['x'], inputs: [input], size };
    const { model } = await quantizeModel(float, calibration, { method: 'minmax' });
    expect(() => convertToFp16(model)).toThrow(Fp16Error);
  });
});
