// int8 that runs as integers: the QDQ graph quantize writes must be the one
// onnxruntime's CPU provider turns into integer kernels (counted on the graph
// it actually runs, optimizedModelFilePath), and the integer kernels' outputs
// must stay within the error the quantization steps allow.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import ort from 'onnxruntime-node';
import { runtimeOps, type RuntimeOps } from '../../../compress/onnx/info.js';
import type { Node } from '../../../compress/onnx/ir.js';
import { optimizedModel } from '../../../compress/onnx/optimized.js';
import { runModel } from '../../../compress/onnx/session.js';
import { consumers } from '../../../compress/onnx/graph.js';
import { planQuantization } from '../../../compress/quantize/plan.js';
import { stemNodes } from '../../../compress/quantize/node-roles.js';
import { quantizeModel } from '../../../compress/quantize/quantize.js';
import { writeModelFile } from '../../../compress/onnx/write.js';
import { readLineage } from '../../../compress/lineage.js';
import { buildYolov8 } from '../../../compress/yolo/builder.js';
import { child, GraphBuilder, ROOT } from '../../../compress/yolo/graph-builder.js';
import { WeightSource } from '../../../compress/yolo/weights.js';
import { blockModel, calibrationOf, graphModel, image, maxRowL1, ran } from './block-model.js';
import { run } from '../../../cli/model-info.js';
import { commandSpec } from '../../helpers/cli.js';

describe('int8 yolov8n (builder-made, 64 px) runs its SiLUs, Adds, Concats, Splits, pools and upsamples in integer', () => {
  const SIZE = 64;
  const float = buildYolov8({ scale: 'n', imgsz: SIZE });
  const cons = consumers(float.graph);
  // The head's read-out: the convs with no SiLU after them (box/class 1x1 convs, DFL) and everything after them.
  const readOuts = float.graph.nodes.filter((n) => n.opType === 'Conv' && !(cons.get(n.outputs[0]) ?? []).some((r) => r.opType === 'Sigmoid'));
  const tail = new Set<Node>();
  const queue = [...readOuts];
  while (queue.length > 0) {
    for (const o of queue.pop()!.outputs) {
      for (const r of cons.get(o) ?? []) {
        if (tail.has(r)) continue;
        tail.add(r);
        queue.push(r);
      }
    }
  }
  const count = (op: string, inTail: boolean) => float.graph.nodes.filter((n) => n.opType === op && tail.has(n) === inTail).length;

  it("readOut 'float': in the graph onnxruntime runs, one QLinear kernel per SiLU half, residual Add and Concat; float only after the read-out convs", async () => {
    const { model, report } = await quantizeModel(float, calibrationOf(SIZE, 2), { method: 'minmax', readOut: 'float', stem: 'integer', hoistPointwise: false });
    const silus = count('Sigmoid', false);
    expect(silus).toBe(57);
    expect(report.quantizedConvs.length).toBe(silus);
    const ops = runtimeOps(await optimizedModel(model));
    expect(ran(ops, 'integer', /(^|\.)QLinearConv$/)).toBe(silus);
    expect(ran(ops, 'integer', /^com\.microsoft\.QLinearSigmoid$/)).toBe(silus);
    expect(ran(ops, 'integer', /^com\.microsoft\.QLinearMul$/)).toBe(count('Mul', false));
    expect(ran(ops, 'integer', /^com\.microsoft\.QLinearAdd$/)).toBe(count('Add', false));
    expect(ran(ops, 'integer', /^com\.microsoft\.QLinearConcat$/)).toBe(count('Concat', false));
    // Split, MaxPool and Resize run on uint8 data (MaxPool as NhwcMaxPool on x86).
    expect(ran(ops, 'integer', /(^|\.)Split$/)).toBe(count('Split', false));
    expect(ran(ops, 'integer', /(^|\.)(Nhwc)?MaxPool$/)).toBe(count('MaxPool', false));
    expect(ran(ops, 'integer', /(^|\.)Resize$/)).toBe(count('Resize', false));
    // Nothing of the backbone and neck is left in float: float Sigmoid/Mul/Add/Concat are the head's read-out ones.
    for (const op of ['Sigmoid', 'Mul', 'Add', 'Concat']) expect(ran(ops, 'float', new RegExp(`^${op}$`)), op).toBeLessThanOrEqual(count(op, true));
    // Float enters once (the image) and leaves once per read-out conv that reads a SiLU.
    expect(ran(ops, 'convert', /^QuantizeLinear$/)).toBe(1);
    expect(ran(ops, 'convert', /^DequantizeLinear$/)).toBe(readOuts.filter((c) => float.graph.nodes.some((n) => n.opType === 'Mul' && n.outputs[0] === c.inputs[0])).length);
  });

  it("scope 'convs' keeps the earlier form: QLinearConv only, every SiLU in float", async () => {
    const { model, report } = await quantizeModel(float, calibrationOf(SIZE, 1), { method: 'minmax', scope: 'convs', readOut: 'float', stem: 'integer' });
    expect(report.integerOps).toEqual({ Conv: 57 });
    const ops = runtimeOps(await optimizedModel(model));
    expect(ran(ops, 'integer', /QLinear(Sigmoid|Mul|Add|Concat)$/)).toBe(0);
    // (onnxruntime may fuse a float x·σ(x) into com.microsoft.QuickGelu)
    expect(ran(ops, 'float', /(^Sigmoid|\.QuickGelu)$/)).toBe(count('Sigmoid', false) + count('Sigmoid', true));
  });
});

describe('the stem (the conv on the image and its SiLU) stays float by default', () => {
  const SIZE = 64;
  const float = buildYolov8({ scale: 'n', imgsz: SIZE });

  it("finds yolov8n's first conv and its Sigmoid and Mul, and nothing after the next conv", () => {
    expect([...stemNodes(float.graph)].map((n) => n.name).sort()).toEqual(['/model.0/act/Mul', '/model.0/act/Sigmoid', '/model.0/conv/Conv']);
  });

  it('is only a conv that reads the image with at most 4 channels, and only the activation fed by it alone', () => {
    const b = new GraphBuilder(new WeightSource(5));
    // a 3-channel conv on the image, a SiLU of it, then a 3-channel conv that does not read the image
    const a = b.convSilu(child(ROOT, 'a'), 'images', 3, 3, 3);
    const c = b.conv2d(child(ROOT, 'c'), a, 3, 3, 1, 1, { gain: 1 });
    // a Mul of the stem with a non-stem tensor is not the stem's activation
    const mixed = b.op('/m', 'Mul', [a, c])[0];
    const out = b.conv2d(child(ROOT, 'out'), mixed, 3, 2, 1, 1, { gain: 1 });
    const model = graphModel(b, 8, out, [1, 2, 8, 8]);
    expect([...stemNodes(model.graph)].map((n) => n.name).sort()).toEqual(['/a/act/Mul', '/a/act/Sigmoid', '/a/conv/Conv']);
    // the same graph with a 12-channel image (a space-to-depth input) has no stem
    const wide = new GraphBuilder(new WeightSource(5));
    const w = wide.convSilu(child(ROOT, 'a'), 'images', 12, 3, 3);
    const model12 = graphModel(wide, 8, w, [1, 3, 8, 8]);
    model12.graph.inputs[0].shape = [1, 12, 8, 8];
    expect(stemNodes(model12.graph).size).toBe(0);
  });

  it("runs the stem float and the image unquantized; stem 'integer' quantizes them as before", async () => {
    const calibration = calibrationOf(SIZE, 1);
    const [byDefault, integer] = await Promise.all([
      quantizeModel(float, calibration, { method: 'minmax' }),
      quantizeModel(float, calibration, { method: 'minmax', stem: 'integer' }),
    ]);
    expect(byDefault.report.stem).toBe('float');
    expect(integer.report.quantizedConvs).toEqual(['/model.0/conv/Conv', ...byDefault.report.quantizedConvs]);
    expect(byDefault.report.integerOps.Sigmoid).toBe(integer.report.integerOps.Sigmoid - 1);
    expect(byDefault.report.integerOps.Mul).toBe(integer.report.integerOps.Mul - 1);
    expect(byDefault.report.activations.some((a) => a.name === 'images')).toBe(false);
    expect(integer.report.activations.some((a) => a.name === 'images')).toBe(true);
    const [d, i] = [runtimeOps(await optimizedModel(byDefault.model)), runtimeOps(await optimizedModel(integer.model))];
    expect(ran(d, 'integer', /(^|\.)QLinearConv$/)).toBe(ran(i, 'integer', /(^|\.)QLinearConv$/) - 1);
    expect(ran(d, 'float', /(^|\.)Conv$/)).toBe(ran(i, 'float', /(^|\.)Conv$/) + 1);
    expect(readLineage(byDefault.model)?.steps.at(-1)?.params.stem).toBe('float');
  });
});

describe('the plan', () => {
  it("keeps only read-out convs float: a factorized conv's inner factors (conv → conv, conv → Gather → SiLU) are quantized", () => {
    const b = new GraphBuilder(new WeightSource(3));
    const f0 = b.conv2d(child(ROOT, 'f0'), 'images', 3, 4, 3, 1, { gain: 1 });
    const silu = b.convSilu(child(ROOT, 'f1'), f0, 4, 8, 1);
    const g0 = b.conv2d(child(ROOT, 'g0'), silu, 8, 8, 1, 1, { gain: 1 });
    const permuted = b.op('/g0', 'Gather', [g0, b.int64Const('/g0', [7, 6, 5, 4, 3, 2, 1, 0])], { axis: 1 })[0];
    const sig = b.op('/g0/act', 'Sigmoid', [permuted])[0];
    const act = b.op('/g0/act', 'Mul', [permuted, sig])[0];
    const out = b.conv2d(child(ROOT, 'readout'), act, 8, 2, 1, 1, { gain: 1 });
    const plan = planQuantization(graphModel(b, 8, out, [1, 2, 8, 8]), { readOut: 'float', stem: 'integer' });
    expect(plan.convs.map((c) => c.name)).toEqual(['/f0/Conv', '/f1/conv/Conv', '/g0/Conv']);
    expect(plan.kept).toEqual([{ node: '/readout/Conv', reason: 'detection head read-out (box/class logits or DFL), kept float' }]);
    expect(plan.ops.map((n) => n.opType)).toEqual(['Sigmoid', 'Mul', 'Gather', 'Sigmoid', 'Mul']);
    // the Gather copies values: its output is quantized exactly as its input
    expect(plan.sources.get(permuted)).toEqual({ kind: 'same-as', tensor: g0 });
    expect(plan.sources.get(sig)).toEqual({ kind: 'sigmoid-of', tensor: permuted });
  });
});

describe('integer kernels stay within the error their quantization steps allow', () => {
  it('a conv, SiLU, Split, Add, Concat, MaxPool and Resize in integer: |int8 − fp32| ≤ the bound from the scales', async () => {
    const SIZE = 32;
    const { model, names, w, v, out } = blockModel(SIZE);
    const input = image(SIZE, 1);
    // min/max on the one image measured: nothing is clipped, every error is rounding.
    const { model: int8, report } = await quantizeModel(model, { files: ['x'], inputs: [input], size: SIZE }, { method: 'minmax', readOut: 'float', stem: 'integer' });
    expect(report.integerOps).toEqual({ Conv: 1, Sigmoid: 1, Mul: 1, Split: 1, Add: 1, Concat: 1, MaxPool: 1, Resize: 1 });

    const ops = runtimeOps(await optimizedModel(int8));
    for (const op of ['QLinearSigmoid', 'QLinearMul', 'QLinearAdd', 'QLinearConcat']) expect(ran(ops, 'integer', new RegExp(`^com\\.microsoft\\.${op}$`)), op).toBe(1);
    expect(ran(ops, 'integer', /(^|\.)QLinearConv$/)).toBe(1);
    expect(ran(ops, 'integer', /(^|\.)(Split|(Nhwc)?MaxPool|Resize)$/)).toBe(3);
    expect(ran(ops, 'float', /(^|\.)Conv$/)).toBe(1);
    expect(ops.byPrecision.convert).toEqual({ DequantizeLinear: 1, QuantizeLinear: 1 });

    const step = (name: string) => report.activations.find((t) => t.name === name)!;
    const s = Object.fromEntries(Object.entries(names).map(([k, n]) => [k, step(n).scale])) as Record<keyof typeof names, number>;
    // |y| within its quantized range [(0 − zp)·s, (255 − zp)·s]
    const yMax = Math.max(step(names.y).zeroPoint, 255 - step(names.y).zeroPoint) * s.y;
    // Conv (per-tensor weights, step sw = max|W|/127; bias at sx·sw): |Ŵx̂ + b̂ − (Wx + b)| ≤ ‖Ŵ_c‖₁·sx/2 + Σ|Ŵ − W|·max|x| + sx·sw/2, then the output step.
    const sw = w.reduce((m, x) => Math.max(m, Math.abs(x)), 0) / 127;
    const fanIn = 3 * 3 * 3;
    const eY = ((maxRowL1(w, 8) + (fanIn * sw) / 2) * s.x) / 2 + ((fanIn * sw) / 2) * 1 + (s.x * sw) / 2 + s.y / 2;
    // σ' ≤ 1/4, then the Sigmoid output's step.
    const eSig = eY / 4 + s.sig / 2;
    // ŷ·σ̂ − y·σ(y) = ŷ(σ̂ − σ(y)) + σ(y)(ŷ − y), |σ| ≤ 1, then the product's step.
    const eS = yMax * eSig + eY + s.s / 2;
    // Split copies; Add sums two errors, then its step; Concat requantizes an input whose step differs from its own.
    const eA = 2 * eS + s.a / 2;
    const requant = (from: number) => (Math.abs(from - s.c) > 1e-12 ? s.c / 2 : 0);
    const eC = Math.max(eA + requant(s.a), eS + requant(s.s));
    // MaxPool of values each within e moves by at most e; Resize copies; the float read-out conv sums |V|·e.
    const bound = maxRowL1(v, 2) * eC;

    const feed = { images: new ort.Tensor('float32', input, [1, 3, SIZE, SIZE]) };
    const expected = (await runModel(model, feed))[out].data as Float32Array;
    const got = (await runModel(int8, feed))[out].data as Float32Array;
    let worst = 0, peak = 0;
    for (let i = 0; i < expected.length; i++) {
      worst = Math.max(worst, Math.abs(got[i] - expected[i]));
      peak = Math.max(peak, Math.abs(expected[i]));
    }
    // float32 arithmetic in the requantizations: a relative 1e-5 on top.
    expect(worst).toBeLessThanOrEqual(bound * (1 + 1e-5) + 1e-6);
    // and the bound says something: the error it allows the integer part is under a quarter of the span it reads out
    expect(eC).toBeLessThan(0.25 * 255 * s.r);
    expect(peak).toBeGreaterThan(0);
  });
});

async function capture(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [], err: string[] = [];
  const w = process.stdout.write, e = process.stderr.write;
  process.stdout.write = ((t: string) => (out.push(t), true)) as typeof process.stdout.write;
  process.stderr.write = ((t: string) => (err.push(t), true)) as typeof process.stderr.write;
  try {
    const code = await run(argv, commandSpec('model info'));
    return { code, out: out.join(''), err: err.join('') };
  } finally {
    process.stdout.write = w;
    process.stderr.write = e;
  }
}

describe('model info --optimized', () => {
  it('prints per op type what onnxruntime runs in integer, and answers a graph it refuses with one line', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'edgefit-info-optimized-'));
    const { model } = blockModel(16);
    const file = path.join(dir, 'int8.onnx');
    writeModelFile((await quantizeModel(model, { files: ['x'], inputs: [image(16)], size: 16 }, { method: 'minmax', stem: 'integer' })).model, file);
    const json = await capture([file, '--optimized', '--json']);
    expect(json.code, json.err).toBe(0);
    const info = JSON.parse(json.out) as { weightFormat: string; onnxruntime: RuntimeOps };
    expect(info.weightFormat).toBe('qdq-int8');
    expect(info.onnxruntime.byPrecision.integer['com.microsoft.QLinearSigmoid']).toBe(1);
    expect(info.onnxruntime.byPrecision.convert).toEqual({ DequantizeLinear: 1, QuantizeLinear: 1 });
    const text = await capture([file, '--optimized']);
    expect(text.out).toMatch(/^ {2}integer +\d+: .*com\.microsoft\.QLinearSigmoid 1/m);
    expect(text.out).toMatch(/^ {2}float<->int8 +2: DequantizeLinear 1, QuantizeLinear 1$/m);
    // without the flag nothing is loaded
    expect((await capture([file])).out).not.toMatch(/onnxruntime/);

    const broken = blockModel(16).model;
    broken.graph.nodes[0].opType = 'NoSuchOp';
    const brokenFile = path.join(dir, 'broken.onnx');
    writeModelFile(broken, brokenFile);
    const refused = await capture([brokenFile, '--optimized']);
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/^edgefit model info: .*broken\.onnx: onnxruntime cannot load it: .+\n$/);
    expect(refused.err.split('\n').length).toBe(2);
  });
});
