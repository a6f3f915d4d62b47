// Pruning speed and what it buys: time to prune yolov8n (l1, ratio 0.5, no
// reconstruction) against a 1 s target, and onnxruntime CPU latency of the
// pruned model against the unpruned one measured in the same run (target
// ratio ≤ 0.65). Uses the float graph of the QDQ fixture when present, else
// the builder's yolov8n; both at 640.
// Run: npm run build && node dist/bench/prune-speed.bench.js
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { dequantizeModel } from '../compress/onnx/dequantize.js';
import type { Model } from '../compress/onnx/ir.js';
import { readModel } from '../compress/onnx/read.js';
import { createSession } from '../compress/onnx/session.js';
import { pruneModel } from '../compress/prune/prune.js';
import { buildYolov8 } from '../compress/yolo/builder.js';
import { fixturesDir, median } from './common.js';

const RUNS = 30;
const PRUNE_TARGET_S = 1;
const LATENCY_TARGET = 0.65;

async function latencies(model: Model): Promise<number[]> {
  const session = await createSession(model);
  const input = new ort.Tensor('float32', new Float32Array(3 * 640 * 640).fill(0.5), [1, 3, 640, 640]);
  const times: number[] = [];
  for (let i = 0; i < RUNS + 3; i++) {
    const t = performance.now();
    await session.run({ [session.inputNames[0]]: input });
    if (i >= 3) times.push(performance.now() - t);
  }
  await session.release();
  return times;
}

async function main(): Promise<void> {
  const file = path.join(fixturesDir, 'models', 'yolov8n_int8_qdq.onnx');
  const [label, model] = existsSync(file)
    ? ['yolov8n fp32 (dequantized QDQ fixture)', dequantizeModel(readModel(readFileSync(file))).model]
    : ['yolov8n (builder, seeded weights)', buildYolov8({ scale: 'n', imgsz: 640 })];
  const pruneTimes: number[] = [];
  let pruned: Model | undefined;
  for (let i = 0; i < 4; i++) {
    const t = performance.now();
    pruned = (await pruneModel(model, { method: 'l1', ratio: 0.5 })).model;
    if (i > 0) pruneTimes.push((performance.now() - t) / 1000); // the first run warms up the JIT
  }
  // Interleave the two models so drift in machine load hits both alike.
  const base: number[] = [], small: number[] = [];
  for (let round = 0; round < 2; round++) {
    base.push(...(await latencies(model)));
    small.push(...(await latencies(pruned!)));
  }
  const prune = median(pruneTimes);
  const ratio = median(small) / median(base);
  const rows = [
    ['model', label],
    ['prune l1 0.5', `${prune.toFixed(2)} s (target < ${PRUNE_TARGET_S} s: ${prune < PRUNE_TARGET_S ? 'met' : 'NOT met'})`],
    ['latency unpruned', `${median(base).toFixed(1)} ms median of ${base.length}`],
    ['latency pruned', `${median(small).toFixed(1)} ms median of ${small.length}`],
    ['ratio', `${ratio.toFixed(2)} of unpruned (target ≤ ${LATENCY_TARGET}: ${ratio <= LATENCY_TARGET ? 'met' : 'NOT met'})`],
  ];
  for (const [k, v] of rows) console.log(`${k.padEnd(17)}  ${v}`);
}

await main();
