// The Detect head's read-out in integer (readOut 'logits', the default): the
// six box/class logit convs run as QLinearConv in the graph onnxruntime runs,
// the DFL expectation stays float, class logits are quantized over the fixed
// span the score floor allows, and a class-logit read-out's scores stay
// within the bound its quantization steps give.
import { describe, expect, it } from 'vitest';
import ort from 'onnxruntime-node';
import { consumers } from '../../../compress/onnx/graph.js';
import { runtimeOps } from '../../../compress/onnx/info.js';
import { optimizedModel } from '../../../compress/onnx/optimized.js';
import { runModel } from '../../../compress/onnx/session.js';
import { quantizeModel } from '../../../compress/quantize/quantize.js';
import { CLASS_LOGIT_RANGE, CLASS_SCORE_FLOOR, logit, sigmoid, uint8Params } from '../../../compress/quantize/ranges.js';
import { buildYolov8 } from '../../../compress/yolo/builder.js';
import { blockModel, calibrationOf, image, maxRowL1, ran } from './block-model.js';

describe('class logits are quantized over the span the score floor allows', () => {
  it('[logit(floor/2), logit(1 − floor/2)]: the lowest code dequantizes under the floor, the highest over 1 − floor', () => {
    expect(sigmoid(CLASS_LOGIT_RANGE.min)).toBeCloseTo(CLASS_SCORE_FLOOR / 2, 12);
    expect(logit(0.5)).toBe(0);
    const p = uint8Params(CLASS_LOGIT_RANGE);
    // a clipped logit must never turn into a detection at the floor
    expect(sigmoid((0 - p.zeroPoint) * p.scale)).toBeLessThan(CLASS_SCORE_FLOOR);
    expect(sigmoid((255 - p.zeroPoint) * p.scale)).toBeGreaterThan(1 - CLASS_SCORE_FLOOR);
  });
});

describe('int8 yolov8n (builder-made, 64 px), default read-out', () => {
  const SIZE = 64;
  const float = buildYolov8({ scale: 'n', imgsz: SIZE });

  it('runs the six box/class logit convs as QLinearConv, keeps the DFL expectation float, and gives class logits the fixed span', async () => {
    const { model, report } = await quantizeModel(float, calibrationOf(SIZE, 2), { method: 'minmax' });
    // 57 conv+SiLU less the stem (float), the six box/class logit read-outs, and one more for each of the neck's two split 1x1 convs
    expect(report.quantizedConvs.length).toBe(56 + 6 + 2);
    expect(report.floatConvs.map((c) => c.node)).toEqual(['/model.0/conv/Conv', '/model.22/dfl/conv/Conv']);
    const ops = runtimeOps(await optimizedModel(model));
    expect(ran(ops, 'integer', /(^|\.)QLinearConv$/)).toBe(64);
    // the float convs are the stem and the DFL; after the read-outs only the decode is float: one class Sigmoid, one Softmax
    expect(ran(ops, 'float', /(^|\.)Conv$/)).toBe(2);
    expect(ran(ops, 'float', /^Sigmoid$/)).toBe(1);
    expect(ran(ops, 'float', /^Softmax$/)).toBe(1);
    // float enters once (after the stem) and leaves once per logit read-out
    expect(ops.byPrecision.convert).toEqual({ QuantizeLinear: 1, DequantizeLinear: 6 });

    const cons = consumers(float.graph);
    const classLogits = report.quantizedConvs.filter((c) => /cv3\.\d\.2\//.test(c)).map((c) => float.graph.nodes.find((n) => n.name === c)!.outputs[0]);
    const boxLogits = report.quantizedConvs.filter((c) => /cv2\.\d\.2\//.test(c)).map((c) => float.graph.nodes.find((n) => n.name === c)!.outputs[0]);
    expect(classLogits.length).toBe(3);
    expect(boxLogits.length).toBe(3);
    const fixed = uint8Params(CLASS_LOGIT_RANGE);
    for (const t of classLogits) expect(report.activations.find((a) => a.name === t)).toEqual({ name: t, ...fixed });
    // box logits are calibrated like any activation (min/max here): not the class span
    for (const t of boxLogits) expect(report.activations.find((a) => a.name === t)!.scale).not.toBeCloseTo(fixed.scale, 6);
    // the DFL's softmax output is read by a float conv: not quantized
    const softmax = float.graph.nodes.find((n) => n.opType === 'Softmax')!;
    expect(cons.get(softmax.outputs[0])!.length).toBeGreaterThan(0);
    expect(report.activations.some((a) => a.name === softmax.outputs[0])).toBe(false);
  });
});

describe('a class-logit read-out in integer stays within the bound of its quantization steps', () => {
  it('conv → … → Resize → 1x1 logit conv (integer) → Sigmoid (float): |int8 − fp32| ≤ the bound from the scales', async () => {
    const SIZE = 32;
    const { model, names, w, v, logits, out } = blockModel(SIZE, 'sigmoid');
    const input = image(SIZE, 1);
    const { model: int8, report } = await quantizeModel(model, { files: ['x'], inputs: [input], size: SIZE }, { method: 'minmax', stem: 'integer' });
    expect(report.quantizedConvs).toEqual(['/model.0/conv/Conv', '/model.4/Conv']);
    const ops = runtimeOps(await optimizedModel(int8));
    expect(ran(ops, 'integer', /(^|\.)QLinearConv$/)).toBe(2);
    expect(ran(ops, 'float', /(^|\.)Conv$/)).toBe(0);

    const step = (name: string) => report.activations.find((t) => t.name === name)!;
    const s = Object.fromEntries(Object.entries(names).map(([k, n]) => [k, step(n).scale])) as Record<keyof typeof names, number>;
    const sOut = step(logits).scale;
    expect(step(logits)).toEqual({ name: logits, ...uint8Params(CLASS_LOGIT_RANGE) });
    // Up to the Resize, integer.test.ts's bound (min/max on the one image: no clipping, every error is rounding).
    const yMax = Math.max(step(names.y).zeroPoint, 255 - step(names.y).zeroPoint) * s.y;
    const sw = w.reduce((m, x) => Math.max(m, Math.abs(x)), 0) / 127;
    const fanIn = 3 * 3 * 3;
    const eY = ((maxRowL1(w, 8) + (fanIn * sw) / 2) * s.x) / 2 + ((fanIn * sw) / 2) * 1 + (s.x * sw) / 2 + s.y / 2;
    const eS = yMax * (eY / 4 + s.sig / 2) + eY + s.s / 2;
    const eA = 2 * eS + s.a / 2;
    const requant = (from: number) => (Math.abs(from - s.c) > 1e-12 ? s.c / 2 : 0);
    const eR = Math.max(eA + requant(s.a), eS + requant(s.s));
    // The logit conv (8 → 2, 1x1, per-tensor weights at sv = max|V|/127, bias at sr·sv):
    // |V̂r̂ + b̂ − (Vr + b)| ≤ Σ|V̂ − V|·max|r̂| + ‖V_c‖₁·eR + sr·sv/2, then its output step (the fixed class span).
    const rMax = Math.max(step(names.r).zeroPoint, 255 - step(names.r).zeroPoint) * s.r;
    const sv = v.reduce((m, x) => Math.max(m, Math.abs(x)), 0) / 127;
    const eLogit = ((8 * sv) / 2) * rMax + maxRowL1(v, 2) * eR + (s.r * sv) / 2 + sOut / 2;

    const feed = { images: new ort.Tensor('float32', input, [1, 3, SIZE, SIZE]) };
    const expected = (await runModel(model, feed))[out].data as Float32Array;
    const got = (await runModel(int8, feed))[out].data as Float32Array;
    let inside = 0;
    for (let i = 0; i < expected.length; i++) {
      // a logit beyond the span is clipped to it: that moves the score by at most its distance to the bound
      const z = logit(expected[i]);
      const clip = Math.max(0, CLASS_LOGIT_RANGE.min - z, z - CLASS_LOGIT_RANGE.max);
      if (clip === 0) inside++;
      // σ' ≤ 1/4; float32 arithmetic in the requantizations: a relative 1e-5 on top.
      expect(Math.abs(got[i] - expected[i])).toBeLessThanOrEqual(((eLogit + clip) / 4) * (1 + 1e-5) + 1e-6);
    }
    // the test says something: most logits lie inside the span, and the bound is well under the scores' range
    expect(inside).toBeGreaterThan(expected.length / 2);
    expect(eLogit / 4).toBeLessThan(0.25);
  });
});
