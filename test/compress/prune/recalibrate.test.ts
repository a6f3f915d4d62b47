import { describe, expect, it } from 'vitest';
import ort from 'onnxruntime-node';
import type { CalibrationSet } from '../../../compress/calibration.js';
import type { Model } from '../../../compress/onnx/ir.js';
import { constValue } from '../../../compress/onnx/graph.js';
import { runWithIntermediates } from '../../../compress/onnx/session.js';
import { toFloat32 } from '../../../compress/onnx/tensor.js';
import { pruneModel } from '../../../compress/prune/prune.js';
import { keepRecalibration, recalibrateIfBetter, recalibrateStatistics } from '../../../compress/prune/recalibrate.js';
import { keptChannels } from '../../../compress/prune/surgery.js';
import { buildYolov8 } from '../../../compress/yolo/builder.js';
import { imageInput, Net } from './helpers.js';

const size = 160;

function calibrationSet(n: number): CalibrationSet {
  return { files: [], inputs: Array.from({ length: n }, (_, i) => imageInput(size, 40 + i).images.data as Float32Array), size };
}

/** Per-channel mean and standard deviation of `name` over every input and position, at `channels`. */
async function moments(model: Model, name: string, channels: ArrayLike<number>, calibration: CalibrationSet): Promise<{ mean: number[]; std: number[] }> {
  const sum = new Float64Array(channels.length);
  const sumSq = new Float64Array(channels.length);
  let count = 0;
  for (const x of calibration.inputs) {
    const t = (await runWithIntermediates(model, { images: new ort.Tensor('float32', x, [1, 3, size, size]) }, [name]))[name];
    const plane = t.dims[2] * t.dims[3];
    const data = t.data as Float32Array;
    for (let k = 0; k < channels.length; k++) {
      for (let i = 0; i < plane; i++) {
        const v = data[channels[k] * plane + i];
        sum[k] += v;
        sumSq[k] += v * v;
      }
    }
    count += plane;
  }
  const mean = Array.from(sum, (s) => s / count);
  return { mean, std: Array.from(sumSq, (q, k) => Math.sqrt(q / count - mean[k] ** 2)) };
}

function weightOf(model: Model, conv: string): Float32Array {
  const node = model.graph.nodes.find((n) => n.outputs[0] === conv)!;
  return toFloat32(constValue(model.graph, node.inputs[1])!);
}

describe('statistics recalibration', () => {
  it('gives every conv downstream of the cut the original per-channel mean and spread, leaves the read-out convs and its input alone', async () => {
    const model = buildYolov8({ scale: 'n', imgsz: size });
    const calibration = calibrationSet(3);
    const { model: pruned, index, plan } = await pruneModel(model, { method: 'l1', ratio: 0.4 });
    const before = new Map(index.dep.convs.map((c) => [c.output, weightOf(pruned, c.output)]));
    const { model: recalibrated, report } = await recalibrateStatistics(index.dep, { removed: plan.removed }, pruned, calibration, { maxScale: 1e6 });

    const changed = index.dep.convs.filter((c) => {
      const w = weightOf(recalibrated, c.output);
      return w.some((v, i) => v !== before.get(c.output)![i]);
    });
    expect(changed.length).toBe(report.convs);
    expect(report.convs).toBeGreaterThan(20);
    expect(report.waves).toBeGreaterThan(5);
    // the input model is untouched
    for (const c of index.dep.convs) expect(weightOf(pruned, c.output)).toEqual(before.get(c.output));
    // the Detect head's box and class convs feed the DFL reshape: their logits keep their values
    const readOut = index.dep.convs.filter((c) => /model\.22\/cv[23]\.\d\/cv[23]\.\d\.2\/Conv/.test(c.node.name));
    expect(readOut.length).toBe(6);
    for (const c of readOut) expect(changed).not.toContain(c);

    const kept = keptChannels(index.dep, plan.removed);
    for (const c of changed.filter((_, i) => i % 4 === 0)) {
      const channels = kept.get(c.output) ?? Int32Array.from({ length: c.weightDims[0] }, (_, i) => i);
      const original = await moments(model, c.output, channels, calibration);
      const restored = await moments(recalibrated, c.output, channels.map((_, i) => i), calibration);
      for (let k = 0; k < channels.length; k++) {
        const tolerance = 1e-3 * (original.std[k] + Math.abs(original.mean[k])) + 1e-5;
        expect(Math.abs(restored.mean[k] - original.mean[k]), `${c.node.name} channel ${k} mean`).toBeLessThan(tolerance);
        expect(Math.abs(restored.std[k] - original.std[k]), `${c.node.name} channel ${k} spread`).toBeLessThan(tolerance);
      }
    }
  }, 120_000);

  it('gives a conv that shares its weight with another its own copy', async () => {
    const net = new Net();
    const c = net.convSilu(net.convSilu(net.convSilu('images', 3, 16), 16, 8), 8, 8);
    expect(c).toBe('v8');
    const d = net.conv(c, 8, 8);
    // the read-out conv reads the weight of the conv before it (w6)
    const readOut = net.nodes.find((n) => n.outputs[0] === d)!;
    const shared = net.nodes.find((n) => n.outputs[0] === 'v6')!;
    net.inits.delete(readOut.inputs[1]);
    readOut.inputs[1] = shared.inputs[1];
    const model = net.model(d, 16);
    const calibration: CalibrationSet = { files: [], inputs: [0, 1, 2].map((i) => imageInput(16, 60 + i).images.data as Float32Array), size: 16 };
    // only the first conv's channels go
    const ignore = [/^Conv_v3$/, /^Conv_v6$/];
    const { model: pruned, index, plan } = await pruneModel(model, { method: 'l1', ratio: 0.5, roundTo: 1, ignore });
    expect(plan.removed.size).toBe(8);
    const { model: recalibrated, report } = await recalibrateStatistics(index.dep, { removed: plan.removed }, pruned, calibration);
    expect(report.convs).toBe(2);
    const w = (m: Model, conv: string) => weightOf(m, conv);
    expect(w(recalibrated, d)).toEqual(w(model, d));
    expect(w(recalibrated, 'v6')).not.toEqual(w(model, 'v6'));
    const out = await runWithIntermediates(recalibrated, { images: new ort.Tensor('float32', calibration.inputs[0], [1, 3, 16, 16]) }, ['output0']);
    expect(out.output0.dims).toEqual([1, 8, 16, 16]);
  });

  it('keeps the recalibrated model only when it agrees better with the original on the calibration inputs', async () => {
    const model = buildYolov8({ scale: 'n', imgsz: size });
    const calibration = calibrationSet(2);
    const { model: pruned, index, plan } = await pruneModel(model, { method: 'l1', ratio: 0.3 });
    const guarded = await recalibrateIfBetter(index.dep, { removed: plan.removed }, pruned, calibration);
    expect(guarded.report.convs).toBeGreaterThan(0);
    expect(guarded.report.applied).toBe(keepRecalibration(guarded.report));
    expect(guarded.model === pruned).toBe(!guarded.report.applied);
    // nothing cut: nothing to recalibrate, and no change agrees better than none
    const untouched = await recalibrateIfBetter(index.dep, {}, model, calibration);
    expect(untouched.report).toMatchObject({ convs: 0, applied: false });
    expect(untouched.model).toBe(model);
  }, 60_000);

  it('runs by default after substitution from calibration images, and recalibrate: false turns it off', async () => {
    const model = buildYolov8({ scale: 'n', imgsz: size });
    const calibration = calibrationSet(2);
    const options = { method: 'l1' as const, ratio: 0.3, reconstruct: true, calibration, positions: 256 };
    const on = await pruneModel(model, options);
    expect(on.report.recovery.recalibration?.convs).toBeGreaterThan(0);
    const off = await pruneModel(model, { ...options, recalibrate: false });
    expect(off.report.recovery.recalibration).toBeUndefined();
    const bias = await pruneModel(model, { method: 'l1', ratio: 0.3, reconstruct: true });
    expect(bias.report.recovery.recalibration).toBeUndefined();
  }, 60_000);
});
