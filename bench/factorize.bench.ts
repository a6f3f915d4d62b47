// Conv factorization ladder on the real YOLOv8n (the QDQ fixture rebuilt as
// float): method × FLOPs cut × refit → achieved GFLOPs, latency against the
// unfactorized model measured in the same run (onnxruntime CPU), and held-out
// fidelity (calibration: coco8 train; held out: coco8 val + bus + zidane).
// spatial and lowrank use data-aware SVDs from the calibration images (as the
// CLI does with --calib) unless --weight-svd.
// --recalibrate ends every row with the guarded statistics recalibration (what
// `edgefit factorize --calib` does); the table says whether it was kept.
// Run: npm run build && node dist/bench/factorize.bench.js [--methods spatial,dws,lowrank,grouped] [--cuts 0.1,0.2,0.3] [--refit both|on|off] [--weight-svd] [--recalibrate]
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import ort from 'onnxruntime-node';
import { readModelFile } from '../compress/onnx/read.js';
import { dequantizeModel } from '../compress/onnx/dequantize.js';
import { createSession } from '../compress/onnx/session.js';
import type { Model } from '../compress/onnx/ir.js';
import { loadCalibration } from '../compress/calibration.js';
import { modelCost } from '../compress/cost.js';
import { measureFidelity, modelDetector } from '../compress/fidelity.js';
import { factorizeModel, planDataAware, planFactorization } from '../compress/factorize/factorize.js';
import { hasDataAwareVariant } from '../compress/factorize/input-stats.js';
import { FACTOR_METHODS, type FactorMethod } from '../compress/factorize/layer.js';

const RUNS = 20;

function repoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'package.json')) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return dir;
}

async function timedSession(model: Model): Promise<{ time: (runs: number) => Promise<number[]>; release: () => Promise<void> }> {
  const session = await createSession(model);
  const input = model.graph.inputs[0];
  const size = input.shape![2] as number;
  const feeds = { [input.name]: new ort.Tensor('float32', new Float32Array(3 * size * size).fill(0.5), [1, 3, size, size]) };
  for (let i = 0; i < 3; i++) await session.run(feeds);
  return {
    time: async (runs) => {
      const out: number[] = [];
      for (let i = 0; i < runs; i++) {
        const t0 = performance.now();
        await session.run(feeds);
        out.push(performance.now() - t0);
      }
      return out;
    },
    release: () => session.release(),
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/**
 * Candidate and baseline timed in alternating rounds, so a change of machine
 * load between them (other jobs, clock boost) hits both alike.
 */
async function measureLatencyRatio(candidate: Model, base: Model): Promise<{ ratio: number; baseMs: number }> {
  const [c, b] = [await timedSession(candidate), await timedSession(base)];
  try {
    const tc: number[] = [], tb: number[] = [];
    for (let round = 0; round < 4; round++) {
      tb.push(...(await b.time(RUNS / 4)));
      tc.push(...(await c.time(RUNS / 4)));
    }
    return { ratio: median(tc) / median(tb), baseMs: median(tb) };
  } finally {
    await c.release();
    await b.release();
  }
}

interface Row {
  method: FactorMethod;
  cut: number;
  refit: boolean;
  /** Whether the recalibration was kept (undefined: not tried). */
  recalibrated?: boolean;
  dataAware: boolean;
  gflops: number;
  achieved: number;
  energy: number;
  latencyRatio: number;
  fidelity: number;
  seconds: number;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { methods: { type: 'string' }, cuts: { type: 'string' }, refit: { type: 'string' }, 'weight-svd': { type: 'boolean' }, recalibrate: { type: 'boolean' } } });
  const methods = (values.methods?.split(',') ?? [...FACTOR_METHODS]) as FactorMethod[];
  const bad = methods.find((m) => !FACTOR_METHODS.includes(m));
  if (bad) throw new Error(`unknown method '${bad}'`);
  const cuts = values.cuts?.split(',').map(Number) ?? [0.1, 0.2, 0.3];
  const refits = values.refit === 'on' ? [true] : values.refit === 'off' ? [false] : [false, true];
  const fixtures = process.env.EDGEFIT_FIXTURES ?? path.resolve(repoRoot(), '..', 'shared', 'fixtures');
  const file = path.join(fixtures, 'models', 'yolov8n_int8_qdq.onnx');
  if (!existsSync(file)) {
    console.log(`factorize: skipped, no fixture at ${file} (set EDGEFIT_FIXTURES)`);
    return;
  }
  const base = dequantizeModel(readModelFile(file)).model;
  const val = path.join(fixtures, 'coco8', 'images', 'val');
  const heldOut = [...readdirSync(val).sort().map((f) => path.join(val, f)), path.join(fixtures, 'images', 'bus.jpg'), path.join(fixtures, 'images', 'zidane.jpg')];
  const calibration = await loadCalibration(path.join(fixtures, 'coco8', 'images', 'train'), 640);
  const baseline = await modelDetector(base);
  const baseLatencies: number[] = [];
  const rows: Row[] = [];
  for (const method of methods) {
    const dataAware = !values['weight-svd'] && hasDataAwareVariant(method);
    const planStart = performance.now();
    const plan = dataAware ? await planDataAware(base, method, calibration) : planFactorization(base, method);
    const planSeconds = (performance.now() - planStart) / 1000;
    for (const cut of cuts) {
      for (const refit of refits) {
        const t0 = performance.now();
        const { model, report } = await factorizeModel(base, { method, flopsCut: cut, plan, ...(refit ? { refit: { calibration } } : {}), ...(values.recalibrate ? { recalibrate: { calibration } } : {}) });
        // the plan (SVDs, and for data-aware the calibration statistics) is shared by a method's rows: count it in each
        const seconds = (performance.now() - t0) / 1000 + planSeconds;
        const { fidelity } = await measureFidelity(model, baseline, heldOut);
        const { ratio: latencyRatio, baseMs } = await measureLatencyRatio(model, base);
        baseLatencies.push(baseMs);
        const row = { method, cut, refit, recalibrated: report.recalibration?.applied, dataAware, gflops: report.flopsAfter / 1e9, achieved: report.cut, energy: report.energyKept, latencyRatio, fidelity, seconds };
        rows.push(row);
        console.error(`${method} ${cut} refit=${refit}${row.recalibrated === undefined ? '' : ` recalibrated=${row.recalibrated}`}: fidelity ${fidelity.toFixed(3)}, latency ×${latencyRatio.toFixed(2)} (${seconds.toFixed(0)} s)`);
      }
    }
  }
  await baseline.release();
  const lines = [
    `# Conv factorization of YOLOv8n (float, from yolov8n_int8_qdq.onnx) at 640`,
    '',
    `Baseline: ${(modelCost(base).flops / 1e9).toFixed(2)} GFLOPs, median latency ${median(baseLatencies).toFixed(1)} ms (onnxruntime CPU; each ratio from ${RUNS} runs of candidate and baseline in alternating rounds). Fidelity: held-out mAP50-95 against the baseline's detections on ${heldOut.length} images (calibration: coco8 train).`,
    '',
    '| method | SVD | target cut | refit | recalibration | GFLOPs | cut | energy kept | latency ratio | held-out fidelity | build s |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.method} | ${r.dataAware ? 'data-aware' : 'weights'} | ${(r.cut * 100).toFixed(0)}% | ${r.refit ? 'yes' : 'no'} | ${r.recalibrated === undefined ? '–' : r.recalibrated ? 'kept' : 'declined'} | ${r.gflops.toFixed(2)} | ${(r.achieved * 100).toFixed(1)}% | ${(r.energy * 100).toFixed(1)}% | ${r.latencyRatio.toFixed(2)} | ${r.fidelity.toFixed(3)} | ${r.seconds.toFixed(0)} |`),
    '',
  ];
  const gate = (method: FactorMethod, refit: boolean, min: number) => {
    const r = rows.find((x) => x.method === method && x.cut === 0.2 && x.refit === refit);
    if (r) lines.push(`${r.fidelity >= min ? 'PASS' : 'FAIL'}: ${method} at 20% ${refit ? 'with' : 'without'} refit keeps held-out fidelity ${r.fidelity.toFixed(3)} (target ≥ ${min})`);
  };
  gate('spatial', true, 0.9);
  gate('dws', false, 0.95);
  gate('dws', true, 0.95);
  const text = lines.join('\n') + '\n';
  process.stdout.write(text);
  const outDir = path.join(repoRoot(), 'bench-output');
  mkdirSync(outDir, { recursive: true });
  writeFileSync(path.join(outDir, 'factorize.md'), text);
}

main().catch((err: Error) => {
  console.error(err.message);
  process.exitCode = 1;
});
