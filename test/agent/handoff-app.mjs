// A stand-in for the user's own application in hand-off mode (handoff.test.ts):
// runs DIR/current.onnx with onnxruntime-node on a few frames a second and
// posts its FPS to the agent's local API every second, as a real application
// would. SIGUSR1 (sent by the --on-deploy hook) reloads the model; while
// DIR/app.pause exists it posts nothing (an application that stopped).
// Usage: node handoff-app.mjs DIR PORT ONNXRUNTIME_ENTRY
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const [dir, port, ortEntry] = process.argv.slice(2);
const ort = createRequire(import.meta.url)(ortEntry);
const FRAMES_PER_SECOND_CAP = 8;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let reload = true;
process.on('SIGUSR1', () => (reload = true));
writeFileSync(path.join(dir, 'app.pid'), String(process.pid));

let model = null;
let frames = 0;

async function load() {
  const bytes = readFileSync(path.join(dir, 'current.onnx'));
  const meta = JSON.parse(readFileSync(path.join(dir, 'current.json'), 'utf8'));
  const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1 });
  const { width, height } = meta.input;
  const frame = new ort.Tensor('float32', new Float32Array(3 * width * height).fill(0.5), [1, 3, height, width]);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  await model?.session.release();
  model = { session, frame, sha256 };
  console.log(`loaded generation ${meta.generation} ${sha256}`);
}

for (;;) {
  if (reload && existsSync(path.join(dir, 'current.json'))) {
    reload = false;
    await load().catch((err) => console.error(`load failed: ${err.message}`));
  }
  if (!model) {
    await sleep(200);
    continue;
  }
  const second = performance.now();
  const latencies = [];
  // a few frames, timed: the FPS is what the application sustains while it runs them
  while (latencies.length < FRAMES_PER_SECOND_CAP && performance.now() - second < 1000 && !reload) {
    const t = performance.now();
    await model.session.run({ [model.session.inputNames[0]]: model.frame });
    latencies.push(performance.now() - t);
    frames++;
  }
  const busyS = latencies.reduce((s, x) => s + x, 0) / 1000;
  if (latencies.length > 0 && !existsSync(path.join(dir, 'app.pause'))) {
    const p95Ms = [...latencies].sort((a, b) => a - b)[Math.ceil(latencies.length * 0.95) - 1];
    const body = JSON.stringify({ fps: Math.round((latencies.length / busyS) * 10) / 10, p95Ms: Math.round(p95Ms * 10) / 10, frames, sha256: model.sha256 });
    await fetch(`http://127.0.0.1:${port}/v1/app-report`, { method: 'POST', headers: { 'content-type': 'application/json' }, body }).catch((err) => console.error(`report failed: ${err.message}`));
  }
  await sleep(Math.max(0, 1000 - (performance.now() - second)));
}
