// Candidates that keep accuracy without training, on the real YOLOv8n (the
// QDQ fixture dequantized to fp32): int8 QDQ per calibration method, fp16, and
// input sizes 512/416/320. Fidelity on held-out images (coco8 val + bus +
// zidane) against the fp32 model, latency as a ratio to fp32 measured in the
// same run, interleaved so machine load hits all candidates alike.
// Run: npm run build && node dist/bench/quantize.bench.js
import path from 'node:path';
import ort from 'onnxruntime-node';
import { loadCalibration } from '../compress/calibration.js';
import { modelCost } from '../compress/cost.js';
import { measureFidelity, modelDetector } from '../compress/fidelity.js';
import { convertToFp16 } from '../compress/fp16.js';
import { dequantizeModel } from '../compress/onnx/dequantize.js';
import type { Model } from '../compress/onnx/ir.js';
import { readModelFile } from '../compress/onnx/read.js';
import { writeModel } from '../compress/onnx/write.js';
import { quantizeModel } from '../compress/quantize/quantize.js';
import { resizeModel } from '../compress/resize.js';
import { calibrationDir, fixtureModelOrSkip, fixturesDir, heldOutImages, median } from './common.js';

const WARMUP = 3;
const ROUNDS = 15;

interface Candidate {
  name: string;
  model: Model;
  size: number;
  fidelity?: number;
  times: number[];
  session?: ort.InferenceSession;
}

async function main(): Promise<void> {
  const file = fixtureModelOrSkip('quantize bench');
  if (!file) return;
  const float = dequantizeModel(readModelFile(file)).model;
  const calibration = await loadCalibration(calibrationDir, 640);
  const heldOut = heldOutImages();

  const candidates: Candidate[] = [{ name: 'fp32 640', model: float, size: 640, times: [] }];
  for (const method of ['percentile', 'minmax', 'entropy'] as const) {
    for (const perChannel of [false, true]) {
      const { model } = await quantizeModel(float, calibration, { method, perChannel });
      candidates.push({ name: `int8 ${method} ${perChannel ? 'per-channel' : 'per-tensor'} 640`, model, size: 640, times: [] });
    }
  }
  candidates.push({ name: 'fp16 640', model: convertToFp16(float).model, size: 640, times: [] });
  for (const size of [512, 416, 320]) candidates.push({ name: `fp32 ${size}`, model: resizeModel(float, size).model, size, times: [] });

  const baseline = await modelDetector(float);
  for (const c of candidates) c.fidelity = (await measureFidelity(c.model, baseline, heldOut)).fidelity;
  await baseline.release();

  for (const c of candidates) c.session = await ort.InferenceSession.create(writeModel(c.model), { graphOptimizationLevel: 'all' });
  const feeds = new Map<number, ort.Tensor>();
  for (const size of new Set(candidates.map((c) => c.size))) {
    feeds.set(size, new ort.Tensor('float32', (await loadCalibration(path.join(fixturesDir, 'images'), size, { maxImages: 1 })).inputs[0], [1, 3, size, size]));
  }
  const inputName = float.graph.inputs[0].name;
  for (let round = 0; round < WARMUP + ROUNDS; round++) {
    for (const c of candidates) {
      const t0 = performance.now();
      await c.session!.run({ [inputName]: feeds.get(c.size)! });
      if (round >= WARMUP) c.times.push(performance.now() - t0);
    }
  }
  const fp32 = median(candidates[0].times);
  const flops = modelCost(float).flops;
  console.log(`YOLOv8n (fp32 rebuilt from the QDQ fixture), calibrated on ${calibration.files.length} coco8 train images, fidelity on ${heldOut.length} held-out images; median of ${ROUNDS} interleaved runs`);
  console.log(`${'candidate'.padEnd(34)} ${'fidelity'.padStart(8)} ${'median ms'.padStart(10)} ${'× fp32'.padStart(7)} ${'FLOPs ×'.padStart(8)}`);
  for (const c of candidates) {
    const ms = median(c.times);
    const flopRatio = modelCost(c.model).flops / flops;
    console.log(`${c.name.padEnd(34)} ${c.fidelity!.toFixed(3).padStart(8)} ${ms.toFixed(1).padStart(10)} ${(ms / fp32).toFixed(2).padStart(7)} ${flopRatio.toFixed(2).padStart(8)}`);
    await c.session!.release();
  }
  console.log('targets: int8 fidelity ≥ 0.9 at ≤ 0.75× fp32 latency; fp16 fidelity ≥ 0.95 (latency reported as measured)');
}

await main();
