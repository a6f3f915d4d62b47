// Read + write time of a float YOLOv8n ONNX model (the QDQ fixture
// dequantized to fp32, ~12 MB), against a 300 ms target for the pair.
// Run: npm run build && node dist/bench/onnx-io.bench.js
import { readFileSync } from 'node:fs';
import { dequantizeModel } from '../compress/onnx/dequantize.js';
import { readModel } from '../compress/onnx/read.js';
import { writeModel } from '../compress/onnx/write.js';
import { fixtureModelOrSkip, median } from './common.js';

const TARGET_MS = 300;
const RUNS = 10;

function main(): void {
  const file = fixtureModelOrSkip('onnx-io');
  if (!file) return;
  const bytes = writeModel(dequantizeModel(readModel(readFileSync(file))).model);
  const reads: number[] = [], writes: number[] = [];
  for (let i = 0; i < RUNS + 2; i++) {
    const t0 = performance.now();
    const model = readModel(bytes);
    const t1 = performance.now();
    writeModel(model);
    const t2 = performance.now();
    // The first two runs warm up the JIT.
    if (i >= 2) {
      reads.push(t1 - t0);
      writes.push(t2 - t1);
    }
  }
  const [r, w] = [median(reads), median(writes)];
  const rows = [
    ['model', `yolov8n fp32 (dequantized QDQ fixture), ${(bytes.length / 2 ** 20).toFixed(1)} MiB`],
    ['read median', `${r.toFixed(1)} ms`],
    ['write median', `${w.toFixed(1)} ms`],
    ['read+write', `${(r + w).toFixed(1)} ms`],
    ['target', `${TARGET_MS} ms`],
    ['ratio', `${((r + w) / TARGET_MS).toFixed(2)} of target (< 1 meets it)`],
  ];
  for (const [k, v] of rows) console.log(`${k.padEnd(12)}  ${v}`);
}

main();
