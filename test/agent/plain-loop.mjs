// A plain onnxruntime loop in a process of its own, the reference the
// profiler is held to (profile.test.ts): one session, `warmup` runs, then
// `runs` timed runs of the same input; prints the p50 in ms as JSON.
// Usage: node plain-loop.mjs MODEL INPUT.f32 H W THREADS WARMUP RUNS ONNXRUNTIME_ENTRY
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const [model, input, h, w, threads, warmup, runs, ortEntry] = process.argv.slice(2);
const ort = createRequire(import.meta.url)(ortEntry);
const session = await ort.InferenceSession.create(model, { executionProviders: ['cpu'], graphOptimizationLevel: 'all', intraOpNumThreads: Number(threads) });
const bytes = readFileSync(input);
const data = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', data, [1, 3, Number(h), Number(w)]) };
for (let i = 0; i < Number(warmup); i++) await session.run(feeds);
const times = [];
for (let i = 0; i < Number(runs); i++) {
  const t0 = performance.now();
  await session.run(feeds);
  times.push(performance.now() - t0);
}
times.sort((a, b) => a - b);
const mid = times.length / 2;
console.log(JSON.stringify({ p50Ms: times.length % 2 ? times[Math.floor(mid)] : (times[mid - 1] + times[mid]) / 2 }));
await session.release();
