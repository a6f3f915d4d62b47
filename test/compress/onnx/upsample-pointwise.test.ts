import ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { nodeShapes } from '../../../compress/latency/features.js';
import { dequantizeModel } from '../../../compress/onnx/dequantize.js';
import { modelInfo, runtimeOps, weightFormat } from '../../../compress/onnx/info.js';
import { floatTensor, int64Tensor, type AttributeValue, type Model, type Node, type Tensor } from '../../../compress/onnx/ir.js';
import { optimizedModel } from '../../../compress/onnx/optimized.js';
import { readModelFile } from '../../../compress/onnx/read.js';
import { runModel } from '../../../compress/onnx/session.js';
import { inferShapes } from '../../../compress/onnx/shapes.js';
import { hoistPointwiseConvs } from '../../../compress/onnx/upsample-pointwise.js';
import { quantizeModel } from '../../../compress/quantize/quantize.js';
import { buildYolov8 } from '../../../compress/yolo/builder.js';
import { fixture, fixturesSkipReason, haveFixtures } from '../../fixtures.js';
import { testModel } from '../../helpers/model.js';
import { calibrationOf, ran } from '../quantize/block-model.js';
import { int, ints, node, syntheticImage } from './helpers.js';

function seeded(n: number, seed: number): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n }, () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32) * 2 - 1);
}

const str = (value: string): AttributeValue => ({ type: 'string', value });
const nearest = { mode: str('nearest'), coordinate_transformation_mode: str('asymmetric'), nearest_mode: str('floor') };

interface Part {
  channels: number;
  /** 'scales' / 'sizes': a nearest ×2 Resize of a half-size input; 'linear': a linear one; undefined: a full-size input. */
  up?: 'scales' | 'sizes' | 'linear';
}

/** Inputs (named x0, x1, …) → optional Resize → Concat axis 1 → Conv (1x1 unless given) → Sigmoid. */
function site(parts: Part[], conv: { m?: number; k?: number; group?: number; bias?: boolean; concatReadTwice?: boolean } = {}): Model {
  const S = 8;
  const { m = 5, k = 1, group = 1, bias = true } = conv;
  const cin = parts.reduce((s, p) => s + p.channels, 0);
  const nodes: Node[] = [];
  const inits: Tensor[] = [floatTensor('w', [m, cin / group, k, k], seeded((m * cin * k * k) / group, 3))];
  if (bias) inits.push(floatTensor('b', [m], seeded(m, 4)));
  const catInputs = parts.map((p, i) => {
    if (!p.up) return `x${i}`;
    const scales = p.up === 'sizes' ? '' : `scales${i}`;
    if (scales) inits.push(floatTensor(scales, [4], Float32Array.of(1, 1, 2, 2)));
    const inputs = [`x${i}`, '', scales];
    if (p.up === 'sizes') {
      inits.push(int64Tensor(`sizes${i}`, [1, p.channels, S, S]));
      inputs.push(`sizes${i}`);
    }
    nodes.push(node('Resize', inputs, [`up${i}`], p.up === 'linear' ? { mode: str('linear') } : nearest));
    return `up${i}`;
  });
  nodes.push(node('Concat', catInputs, ['cat'], { axis: int(1) }));
  nodes.push(node('Conv', ['cat', 'w', ...(bias ? ['b'] : [])], ['y'], { kernel_shape: ints([k, k]), pads: ints(Array(4).fill((k - 1) / 2)), group: int(group) }));
  nodes.push(node('Sigmoid', ['y'], ['out']));
  const outputs = [{ name: 'out', elemType: 1 as const, shape: [1, m, S, S] }];
  if (conv.concatReadTwice) {
    nodes.push(node('Identity', ['cat'], ['cat_copy']));
    outputs.push({ name: 'cat_copy', elemType: 1 as const, shape: [1, cin, S, S] });
  }
  const inputs = parts.map((p, i) => ({ name: `x${i}`, elemType: 1 as const, shape: [1, p.channels, p.up ? S / 2 : S, p.up ? S / 2 : S] }));
  return testModel({ name: 'site', nodes, inputs, outputs, valueInfo: [], initializers: new Map(inits.map((t) => [t.name, t])) });
}

function feedsOf(model: Model): Record<string, ort.Tensor> {
  return Object.fromEntries(model.graph.inputs.map((v, i) => {
    const dims = v.shape as number[];
    return [v.name, new ort.Tensor('float32', seeded(dims.reduce((a, b) => a * b, 1), 10 + i), dims)];
  }));
}

/** Every output of `b` equals `a`'s within 1e-4 of max(|a|, 1). */
async function expectSameOutputs(a: Model, b: Model, feeds: Record<string, ort.Tensor>): Promise<void> {
  const [ra, rb] = [await runModel(a, feeds), await runModel(b, feeds)];
  for (const name of Object.keys(ra)) {
    const [x, y] = [ra[name].data as Float32Array, rb[name].data as Float32Array];
    expect(rb[name].dims).toEqual(ra[name].dims);
    let worst = 0;
    for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i] - y[i]) / Math.max(Math.abs(x[i]), 1));
    expect(worst, name).toBeLessThanOrEqual(1e-4);
  }
}

describe('hoistPointwiseConvs: a 1x1 conv over a Concat of nearest upsamples runs before the upsample', () => {
  it('Resize(scales) then a full-size input: one conv per branch, bias on the full-size one, one Add writing the conv output', async () => {
    const model = site([{ channels: 4, up: 'scales' }, { channels: 3 }]);
    const { model: out, rewritten } = hoistPointwiseConvs(model);
    expect(rewritten).toEqual(['Conv_y']);
    expect(out.graph.nodes.map((n) => n.opType)).toEqual(['Conv', 'Conv', 'Resize', 'Add', 'Sigmoid']);
    const convs = out.graph.nodes.filter((n) => n.opType === 'Conv');
    expect(convs.map((c) => c.inputs[0])).toEqual(['x1', 'x0']);
    expect(convs.map((c) => out.graph.initializers.get(c.inputs[1])!.dims)).toEqual([[5, 3, 1, 1], [5, 4, 1, 1]]);
    expect(convs.map((c) => c.inputs[2] ?? '')).toEqual(['b', '']);
    expect(out.graph.nodes.find((n) => n.opType === 'Add')!.outputs).toEqual(['y']);
    expect(out.graph.initializers.has('w')).toBe(false);
    expect(inferShapes(out).get('y')?.shape).toEqual([1, 5, 8, 8]);
    // the input model is left as it was
    expect(model.graph.nodes.map((n) => n.opType)).toEqual(['Resize', 'Concat', 'Conv', 'Sigmoid']);
    await expectSameOutputs(model, out, feedsOf(model));
  });

  it('several inputs: each upsample (scales or sizes) gets its own conv, the full-size ones share one conv over their Concat; no bias; all-upsampled', async () => {
    const mixed = site([{ channels: 2 }, { channels: 4, up: 'sizes' }, { channels: 3 }, { channels: 6, up: 'scales' }], { bias: false });
    const a = hoistPointwiseConvs(mixed).model;
    expect(a.graph.nodes.map((n) => n.opType)).toEqual(['Concat', 'Conv', 'Conv', 'Resize', 'Conv', 'Resize', 'Add', 'Add', 'Sigmoid']);
    expect(a.graph.nodes[0].inputs).toEqual(['x0', 'x2']);
    // the sizes-given Resize now sizes the conv's 5 channels
    const resize = a.graph.nodes.find((n) => n.opType === 'Resize' && n.inputs[3])!;
    expect(Array.from(a.graph.initializers.get(resize.inputs[3])!.data as BigInt64Array, Number)).toEqual([1, 5, 8, 8]);
    await expectSameOutputs(mixed, a, feedsOf(mixed));
    const allUp = site([{ channels: 4, up: 'scales' }, { channels: 2, up: 'scales' }]);
    const b = hoistPointwiseConvs(allUp).model;
    expect(b.graph.nodes.filter((n) => n.opType === 'Conv').map((c) => c.inputs.length)).toEqual([3, 2]);
    await expectSameOutputs(allUp, b, feedsOf(allUp));
  });

  it('leaves alone a 3x3 conv, a grouped conv, a linear Resize and a Concat that is read twice', () => {
    const up = { channels: 4, up: 'scales' as const }, full = { channels: 4 };
    for (const model of [site([up, full], { k: 3 }), site([up, full], { group: 2 }), site([{ channels: 4, up: 'linear' }, full]), site([up, full], { concatReadTwice: true })]) {
      const { model: out, rewritten } = hoistPointwiseConvs(model);
      expect(rewritten).toEqual([]);
      expect(out.graph.nodes.map((n) => n.opType)).toEqual(model.graph.nodes.map((n) => n.opType));
    }
  });

  it('int8 (builder yolov8n, 64 px) with hoistPointwise: both cv1 split, the halves and the Add run in integer; info, latency shapes and dequantize still read it', async () => {
    const float = buildYolov8({ scale: 'n', imgsz: 64 });
    const { model, report } = await quantizeModel(float, calibrationOf(64, 2), { method: 'minmax', hoistPointwise: true });
    expect(report.pointwiseBeforeUpsample).toEqual(['/model.12/cv1/conv/Conv', '/model.15/cv1/conv/Conv']);
    expect(report.quantizedConvs.filter((c) => c.startsWith('/model.12/cv1/conv/Conv_'))).toHaveLength(2);
    const ops = runtimeOps(await optimizedModel(model));
    // 6 residual Adds of the backbone and neck + the 2 that join the split halves
    expect(ran(ops, 'integer', /QLinearAdd$/)).toBe(8);
    expect(ran(ops, 'integer', /(^|\.)Resize$/)).toBe(2);
    expect(weightFormat(model)).toBe('qdq-int8');
    const info = modelInfo(model);
    expect(info.nodes).toBe(model.graph.nodes.length);
    expect(info.runnable.ok).toBe(true);
    expect(info.flops).toBeGreaterThan(0);
    expect(nodeShapes(model).filter((s) => s.node.startsWith('/model.15/cv1/conv/Conv_') && s.op === 'Conv')).toHaveLength(2);
    const back = dequantizeModel(model).model;
    expect(weightFormat(back)).toBe('fp32');
    const feed = { images: syntheticImage(64) };
    expect((await runModel(back, feed)).output0.dims).toEqual((await runModel(float, feed)).output0.dims);
  });

});

describe.skipIf(!haveFixtures)(`hoistPointwiseConvs on the real YOLOv8n (${fixturesSkipReason})`, () => {
  it('rewrites both neck sites; the outputs are equal at 640', async () => {
    const { model: float } = dequantizeModel(readModelFile(fixture('models', 'yolov8n_int8_qdq.onnx')));
    const { model, rewritten } = hoistPointwiseConvs(float);
    expect(rewritten).toEqual(['/model.12/cv1/conv/Conv', '/model.15/cv1/conv/Conv']);
    await expectSameOutputs(float, model, { images: syntheticImage(640) });
  }, 60_000);
});
