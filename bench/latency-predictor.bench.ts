// The latency predictor (issue #21) on this machine's CPU, one onnxruntime
// thread: operator profiles of five candidates fit per-kind models
// (compress/latency/predict.ts), which then predict ten candidates they never
// saw (other input sizes, other pruning ratios, pruned at another size, another
// factorization, int8 at other sizes and pruned); each of those is measured
// and the error printed, with the mean absolute percentage error (goal ≤ 10%).
// Every candidate is made by edgefit's own compress functions from the fixture
// YOLOv8n (the builder's yolov8n without the fixtures, then without int8).
// Latency: one live session at a time, one intra-op thread, the median of
// PASSES × RUNS runs, the passes interleaved over all candidates so that load
// drift on a shared machine hits every candidate alike.
// Run: npm run build && node dist/bench/latency-predictor.bench.js
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { measureOpProfile } from '../agent/profile/op-profile.js';
import { loadCalibration } from '../compress/calibration.js';
import { factorizeModel } from '../compress/factorize/factorize.js';
import { nodeShapes } from '../compress/latency/features.js';
import { fitPredictor, meanAbsPctError, predictLatency, predictionErrorPct, type TrainingProfile } from '../compress/latency/predict.js';
import { dequantizeModel } from '../compress/onnx/dequantize.js';
import type { Model } from '../compress/onnx/ir.js';
import { readModelFile } from '../compress/onnx/read.js';
import { writeModel } from '../compress/onnx/write.js';
import { pruneModel } from '../compress/prune/prune.js';
import { quantizeModel } from '../compress/quantize/quantize.js';
import { resizeModel } from '../compress/resize.js';
import { buildYolov8 } from '../compress/yolo/builder.js';
import type { OpProfileReport } from '../protocol/messages.js';
import { calibrationDir, fixturesDir, median, writeReport } from './common.js';

const THREADS = 1;
const PASSES = 3;
const RUNS = 7;
const WARMUP = 3;
const OP_RUNS = 10;

interface Candidate {
  name: string;
  role: 'fit' | 'predict';
  model: Model;
  size: number;
  bytes?: Uint8Array;
  times: number[];
  op?: OpProfileReport;
}

const sessionOptions: ort.InferenceSession.SessionOptions = { graphOptimizationLevel: 'all', intraOpNumThreads: THREADS, interOpNumThreads: 1, executionMode: 'sequential' };

async function timeRuns(c: Candidate, feed: ort.Tensor, inputName: string): Promise<void> {
  const session = await ort.InferenceSession.create(c.bytes!, sessionOptions);
  try {
    for (let i = 0; i < WARMUP + RUNS; i++) {
      const t0 = performance.now();
      await session.run({ [inputName]: feed });
      if (i >= WARMUP) c.times.push(performance.now() - t0);
    }
  } finally {
    await session.release();
  }
}

async function candidates(): Promise<{ label: string; list: Candidate[] }> {
  const file = path.join(fixturesDir, 'models', 'yolov8n_int8_qdq.onnx');
  const haveFixture = existsSync(file);
  const float = haveFixture ? dequantizeModel(readModelFile(file)).model : buildYolov8({ scale: 'n', imgsz: 640 });
  const label = haveFixture ? 'YOLOv8n (fp32 rebuilt from the QDQ fixture)' : 'YOLOv8n (builder, seeded weights; no fixtures: no int8 candidates)';
  const pruned = async (m: Model, ratio: number) => (await pruneModel(m, { method: 'l1', ratio })).model;
  const factorized = async (m: Model, method: 'spatial' | 'lowrank', flopsCut: number) => (await factorizeModel(m, { method, flopsCut })).model;
  const p20 = await pruned(float, 0.2);
  const list: Candidate[] = [
    { name: 'fp32 640', role: 'fit', model: float, size: 640, times: [] },
    { name: 'fp32 512', role: 'fit', model: resizeModel(float, 512).model, size: 512, times: [] },
    { name: 'l1 pruned 20% 640', role: 'fit', model: p20, size: 640, times: [] },
    { name: 'spatial factorized 20% 640', role: 'fit', model: await factorized(float, 'spatial', 0.2), size: 640, times: [] },
    { name: 'fp32 416', role: 'predict', model: resizeModel(float, 416).model, size: 416, times: [] },
    { name: 'fp32 320', role: 'predict', model: resizeModel(float, 320).model, size: 320, times: [] },
    { name: 'l1 pruned 10% 640', role: 'predict', model: await pruned(float, 0.1), size: 640, times: [] },
    { name: 'l1 pruned 35% 640', role: 'predict', model: await pruned(float, 0.35), size: 640, times: [] },
    { name: 'l1 pruned 20% 512', role: 'predict', model: resizeModel(p20, 512).model, size: 512, times: [] },
    { name: 'spatial factorized 35% 640', role: 'predict', model: await factorized(float, 'spatial', 0.35), size: 640, times: [] },
    { name: 'lowrank factorized 20% 640', role: 'predict', model: await factorized(float, 'lowrank', 0.2), size: 640, times: [] },
  ];
  if (haveFixture) {
    const calib640 = await loadCalibration(calibrationDir, 640);
    list.push({ name: 'int8 640', role: 'fit', model: (await quantizeModel(float, calib640)).model, size: 640, times: [] });
    for (const size of [512, 416]) {
      list.push({ name: `int8 ${size}`, role: 'predict', model: (await quantizeModel(resizeModel(float, size).model, await loadCalibration(calibrationDir, size))).model, size, times: [] });
    }
    list.push({ name: 'int8 l1 pruned 20% 640', role: 'predict', model: (await quantizeModel(p20, calib640)).model, size: 640, times: [] });
  }
  return { label, list };
}

const pad = (s: string | number, n: number) => String(s).padStart(n);

async function main(): Promise<void> {
  const t0 = performance.now();
  const { label, list } = await candidates();
  const buildS = (performance.now() - t0) / 1000;
  const feeds = new Map<number, ort.Tensor>();
  const imagesDir = path.join(fixturesDir, 'images');
  for (const size of new Set(list.map((c) => c.size))) {
    const data = existsSync(imagesDir) ? (await loadCalibration(imagesDir, size, { maxImages: 1 })).inputs[0] : new Float32Array(3 * size * size).fill(0.5);
    feeds.set(size, new ort.Tensor('float32', data, [1, 3, size, size]));
  }
  for (const c of list) c.bytes = writeModel(c.model);
  const inputName = list[0].model.graph.inputs[0].name;
  const load0 = os.loadavg()[0];
  for (let pass = 0; pass < PASSES; pass++) for (const c of list) await timeRuns(c, feeds.get(c.size)!, inputName);
  for (const c of list.filter((x) => x.role === 'fit')) {
    c.op = await measureOpProfile({ bytes: c.bytes!, threads: THREADS, executionProviders: ['cpu'], feeds: { [inputName]: feeds.get(c.size)! }, warmup: WARMUP, runs: OP_RUNS });
  }
  const load1 = os.loadavg()[0];

  const training: TrainingProfile[] = list
    .filter((c) => c.role === 'fit')
    .map((c) => ({ shapes: nodeShapes(c.model), nodeUs: new Map(c.op!.nodes.map((n) => [n.node, 1000 * (n.ms + n.absorbedMs)])), measuredMs: median(c.times) }));
  const predictor = fitPredictor(training);

  const lines: string[] = [];
  const say = (s: string) => {
    lines.push(s);
    console.log(s);
  };
  say(`${label}; ${os.cpus()[0]?.model ?? 'unknown CPU'} (${os.cpus().length} logical cores), onnxruntime ${ort.env.versions?.common ?? ''} cpu, ${THREADS} intra-op thread, one live session at a time`);
  say(`latency: median of ${PASSES}×${RUNS} model-only runs (passes interleaved over candidates); operator profiles: ${OP_RUNS} runs after ${WARMUP} warm-up, in their own session; load average ${load0.toFixed(1)} → ${load1.toFixed(1)}; candidates built in ${buildS.toFixed(0)} s`);
  say(`predictor: ${predictor.kinds.size} kind models from ${training.length} profiled candidates; whole model = ${predictor.scale.toFixed(3)} × Σ nodes + ${predictor.constantMs.toFixed(2)} ms`);
  say('');
  say(`${'candidate'.padEnd(28)} ${'role'.padEnd(8)} ${pad('measured ms', 11)} ${pad('predicted', 9)} ${pad('error %', 8)}  unseen kinds`);
  const predicted: Array<{ predictedMs: number; measuredMs: number }> = [];
  const fitted: Array<{ predictedMs: number; measuredMs: number }> = [];
  for (const c of list) {
    const p = predictLatency(predictor, nodeShapes(c.model));
    const measuredMs = median(c.times);
    (c.role === 'fit' ? fitted : predicted).push({ predictedMs: p.ms, measuredMs });
    say(`${c.name.padEnd(28)} ${(c.role === 'fit' ? 'fitted' : 'unseen').padEnd(8)} ${pad(measuredMs.toFixed(1), 11)} ${pad(p.ms.toFixed(1), 9)} ${pad(predictionErrorPct(p.ms, measuredMs).toFixed(1), 8)}  ${p.unseen.join(', ')}`);
  }
  say('');
  say(`MAPE on the ${predicted.length} candidates not fitted on: ${meanAbsPctError(predicted).toFixed(1)}% (goal ≤ 10%); on the ${fitted.length} fitted: ${meanAbsPctError(fitted).toFixed(1)}%`);
  for (const c of list.filter((x) => x.op)) {
    const top = [...c.op!.nodes].sort((a, b) => b.ms + b.absorbedMs - (a.ms + a.absorbedMs)).slice(0, 5);
    const unmapped = new Map<string, number>();
    for (const u of c.op!.unmapped) unmapped.set(u.op, (unmapped.get(u.op) ?? 0) + 1);
    say(`${c.name}: kernels ${c.op!.kernelMs.toFixed(1)} ms of a ${c.op!.runMs.toFixed(1)} ms profiled run; unmapped ${[...unmapped].map(([op, n]) => `${n} ${op}`).join(', ') || 'none'}; ${c.op!.absent} model nodes without a kernel; top: ${top.map((n) => `${n.node} ${(n.ms + n.absorbedMs).toFixed(2)}`).join(', ')}`);
  }
  console.log(`report: ${writeReport('latency-predictor.txt', lines.join('\n') + '\n')}`);
}

await main();
