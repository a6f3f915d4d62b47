// The latency predictor (issue #21) on this machine's CPU, one onnxruntime
// thread: the fit set that `edgefit search` profiles locally
// (agent/profile/fit-predictor.ts: fp32, pruned, factorized, int8 and fp16
// members at 640, 480 and 320 px) fits per-kind models
// (compress/latency/predict.ts), which then predict candidates they never saw:
// other input sizes (512, 416, 384, 352), other pruning depths, pruned at
// another size, other factorizations, int8 and fp16 at other sizes, and
// combinations (int8 × pruned × a smaller size, pruned × factorized, fp16 ×
// pruned). No candidate is both
// fitted and predicted. Every candidate is made by edgefit's own compress
// functions from the fixture YOLOv8n (the builder's yolov8n without the
// fixtures, then without int8).
// Latency: one live session at a time, one intra-op thread, the median of
// PASSES × RUNS runs, the passes interleaved over all candidates (fitted and
// unseen alike) so that load drift on a shared machine hits every one alike.
// Run: npm run build && node dist/bench/latency-predictor.bench.js
// (`--refit`: refit and predict from the last run's saved models and
// measurements in bench-output/latency-predictor-data/, no measuring: for
// trying a feature change against the same numbers.)
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { buildFitSet, cpuLatency, feedsFor, median, profileMembers, timeInterleaved, trainingProfile, type FitMember } from '../agent/profile/fit-predictor.js';
import { loadCalibration, type CalibrationSet } from '../compress/calibration.js';
import { factorizeModel } from '../compress/factorize/factorize.js';
import { convertToFp16 } from '../compress/fp16.js';
import { nodeShapes } from '../compress/latency/features.js';
import { fitPredictor, meanAbsPctError, predictLatency, predictionErrorPct } from '../compress/latency/predict.js';
import { dequantizeModel } from '../compress/onnx/dequantize.js';
import type { Model } from '../compress/onnx/ir.js';
import { readModelFile } from '../compress/onnx/read.js';
import { writeModel } from '../compress/onnx/write.js';
import { pruneModel } from '../compress/prune/prune.js';
import { quantizeModel } from '../compress/quantize/quantize.js';
import { resizeModel } from '../compress/resize.js';
import { buildYolov8 } from '../compress/yolo/builder.js';
import type { OpProfileReport } from '../protocol/messages.js';
import { calibrationDir, fixturesDir, repoRoot, writeReport } from './common.js';

const THREADS = 1;
const PASSES = 4;
const RUNS = 4;
const OP_RUNS = 10;
const SIZES = [640, 320];

interface Candidate extends FitMember {
  role: 'fit' | 'predict';
  times: number[];
  cpu: number[];
  op?: OpProfileReport;
}

const dataDir = path.join(repoRoot, 'bench-output', 'latency-predictor-data');
const fileOf = (name: string) => path.join(dataDir, `${name.replace(/[^A-Za-z0-9]+/g, '_')}.onnx`);

async function unseen(float: Model, calib: (size: number) => Promise<CalibrationSet | undefined>): Promise<FitMember[]> {
  const pruned = async (m: Model, ratio: number) => (await pruneModel(m, { method: 'l1', ratio })).model;
  const factorized = async (m: Model, method: 'spatial' | 'lowrank', flopsCut: number) => (await factorizeModel(m, { method, flopsCut })).model;
  const at = (m: Model, size: number) => (size === 640 ? m : resizeModel(m, size).model);
  const p10 = await pruned(float, 0.1);
  const p20 = await pruned(float, 0.2);
  const p35 = await pruned(float, 0.35);
  const list: FitMember[] = [
    { name: 'fp32 512', model: at(float, 512), size: 512 },
    { name: 'fp32 416', model: at(float, 416), size: 416 },
    { name: 'fp32 352', model: at(float, 352), size: 352 },
    { name: 'l1 pruned 10% 640', model: p10, size: 640 },
    { name: 'l1 pruned 35% 640', model: p35, size: 640 },
    { name: 'l1 pruned 20% 384', model: at(p20, 384), size: 384 },
    { name: 'spatial factorized 35% 640', model: await factorized(float, 'spatial', 0.35), size: 640 },
    { name: 'spatial factorized 20% 416', model: at(await factorized(float, 'spatial', 0.2), 416), size: 416 },
    { name: 'lowrank factorized 20% 640', model: await factorized(float, 'lowrank', 0.2), size: 640 },
    { name: 'l1 pruned 10% spatial 20% 512', model: at(await factorized(p10, 'spatial', 0.2), 512), size: 512 },
    { name: 'fp16 640', model: convertToFp16(float).model, size: 640 },
    { name: 'fp16 416', model: convertToFp16(at(float, 416)).model, size: 416 },
    { name: 'fp16 l1 pruned 20% 512', model: convertToFp16(at(p20, 512)).model, size: 512 },
  ];
  for (const [name, model, size] of [
    ['int8 512', float, 512],
    ['int8 416', float, 416],
    ['int8 l1 pruned 20% 416', p20, 416],
    ['int8 l1 pruned 10% 640', p10, 640],
  ] as const) {
    const c = await calib(size);
    if (c) list.push({ name, model: (await quantizeModel(at(model, size), c)).model, size });
  }
  return list;
}

const pad = (s: string | number, n: number) => String(s).padStart(n);

interface Saved {
  header: string[];
  candidates: Array<{ name: string; role: 'fit' | 'predict'; size: number; times: number[]; cpu: number[]; op?: OpProfileReport }>;
}

async function measure(): Promise<{ list: Candidate[]; header: string[] }> {
  const t0 = performance.now();
  const file = path.join(fixturesDir, 'models', 'yolov8n_int8_qdq.onnx');
  const haveFixture = existsSync(file);
  const float = haveFixture ? dequantizeModel(readModelFile(file)).model : buildYolov8({ scale: 'n', imgsz: 640 });
  const label = haveFixture ? 'YOLOv8n (fp32 rebuilt from the QDQ fixture)' : 'YOLOv8n (builder, seeded weights; no fixtures: no int8 candidates)';
  const calibration = haveFixture ? await loadCalibration(calibrationDir, 640, { maxImages: 4 }) : undefined;
  const calib = async (size: number) => (calibration ? (size === 640 ? calibration : await loadCalibration(calibrationDir, size, { maxImages: 4 })) : undefined);
  const fitSet = calibration ? await buildFitSet(float, calibration, SIZES) : [];
  const fitBuildS = (performance.now() - t0) / 1000;
  const list: Candidate[] = [...fitSet.map((m) => ({ ...m, role: 'fit' as const, times: [], cpu: [] })), ...(await unseen(float, calib)).map((m) => ({ ...m, role: 'predict' as const, times: [], cpu: [] }))];
  const buildS = (performance.now() - t0) / 1000;
  const withBytes = list.map((c) => ({ ...c, bytes: writeModel(c.model) }));
  const feeds = await feedsFor(
    list.map((c) => c.size),
    calibration,
  );
  const load0 = os.loadavg();
  const t1 = performance.now();
  const times = await timeInterleaved(withBytes, feeds, { threads: THREADS, passes: PASSES, runs: RUNS });
  times.forEach((t, i) => {
    list[i].times = t.wall;
    list[i].cpu = t.cpu;
  });
  const t2 = performance.now();
  const fitted = withBytes.filter((c) => c.role === 'fit');
  const ops = await profileMembers(fitted, feeds, { threads: THREADS, opRuns: OP_RUNS });
  fitted.forEach((c, i) => (list.find((x) => x.name === c.name)!.op = ops[i]));
  const t3 = performance.now();
  const load1 = os.loadavg();
  mkdirSync(dataDir, { recursive: true });
  withBytes.forEach((c) => writeFileSync(fileOf(c.name), c.bytes));
  const header = [
    `${label}; ${os.cpus()[0]?.model ?? 'unknown CPU'} (${os.cpus().length} logical cores), onnxruntime ${ort.env.versions?.common ?? ''} cpu, ${THREADS} intra-op thread, one live session at a time`,
    `latency: median of ${PASSES}×${RUNS} model-only runs after 2 warm-up per pass (passes interleaved over all ${list.length} candidates); operator profiles: ${OP_RUNS} runs after 3 warm-up, each in its own session, after the timing`,
    `load average (1/5/15 min) ${load0.map((l) => l.toFixed(1)).join('/')} before timing → ${load1.map((l) => l.toFixed(1)).join('/')} after profiling`,
    `fit set (${fitSet.length} members, agent/profile/fit-predictor.ts): built in ${fitBuildS.toFixed(0)} s; all candidates built in ${buildS.toFixed(0)} s; timing ${((t2 - t1) / 1000).toFixed(0)} s; op-profiling the fit set ${((t3 - t2) / 1000).toFixed(0)} s`,
  ];
  const saved: Saved = { header, candidates: list.map((c) => ({ name: c.name, role: c.role, size: c.size, times: c.times, cpu: c.cpu, op: c.op })) };
  writeFileSync(path.join(dataDir, 'data.json'), JSON.stringify(saved));
  return { list, header };
}

function reload(): { list: Candidate[]; header: string[] } {
  const saved = JSON.parse(readFileSync(path.join(dataDir, 'data.json'), 'utf8')) as Saved;
  const list = saved.candidates.map((c) => ({ ...c, model: readModelFile(fileOf(c.name)) }));
  return { list, header: [...saved.header, '(refitted from the saved measurements: --refit)'] };
}

async function main(): Promise<void> {
  const t0 = performance.now();
  const { list, header } = process.argv.includes('--refit') ? reload() : await measure();
  const lines: string[] = [];
  const say = (s: string) => {
    lines.push(s);
    console.log(s);
  };
  for (const h of header) say(h);
  // the same profiles fitted twice: on the wall-clock medians and on the CPU-time medians (agent/profile/fit-predictor.ts: timeInterleaved)
  const measures = [
    ['cpu', 'lower quartile of the process CPU time (user + system) per run (agent/profile/fit-predictor.ts: cpuLatency): the headline', (c: Candidate) => cpuLatency(c.cpu)],
    ['cpu median', 'median process CPU time per run', (c: Candidate) => median(c.cpu)],
    ['wall', 'median wall-clock time per run (at high load: the scheduler more than the model)', (c: Candidate) => median(c.times)],
  ] as const;
  for (const [clock, what, latencyOf] of measures) {
    const training = list.filter((c) => c.role === 'fit').map((c) => trainingProfile(c.model, latencyOf(c), c.op!));
    const predictor = fitPredictor(training);
    say('');
    say(`### latency = ${what}`);
    say(`predictor: ${predictor.kinds.size} kind models from ${training.length} profiled candidates; whole model = ${predictor.scale.toFixed(3)} × Σ nodes + ${predictor.constantMs.toFixed(2)} ms`);
    say('');
    say(`| ${'candidate'.padEnd(30)} | role   | measured ms | predicted ms | error % | unseen kinds`);
    say(`|${'-'.repeat(32)}|--------|-------------|--------------|---------|-------------`);
    const predicted: Array<{ predictedMs: number; measuredMs: number }> = [];
    const fitted: Array<{ predictedMs: number; measuredMs: number }> = [];
    for (const c of list) {
      const p = predictLatency(predictor, nodeShapes(c.model));
      const measuredMs = latencyOf(c);
      (c.role === 'fit' ? fitted : predicted).push({ predictedMs: p.ms, measuredMs });
      say(`| ${c.name.padEnd(30)} | ${c.role === 'fit' ? 'fitted' : 'unseen'} | ${pad(measuredMs.toFixed(1), 11)} | ${pad(p.ms.toFixed(1), 12)} | ${pad(predictionErrorPct(p.ms, measuredMs).toFixed(1), 7)} | ${p.unseen.join(', ')}`);
    }
    say('');
    say(`${clock}: MAPE on the ${predicted.length} candidates not fitted on: ${meanAbsPctError(predicted).toFixed(1)}% (goal ≤ 10%); on the ${fitted.length} fitted: ${meanAbsPctError(fitted).toFixed(1)}%`);
  }
  say('');
  for (const c of list.filter((x) => x.op)) {
    const unmapped = new Map<string, number>();
    for (const u of c.op!.unmapped) unmapped.set(u.op, (unmapped.get(u.op) ?? 0) + 1);
    say(`${c.name}: kernels ${c.op!.kernelMs.toFixed(1)} ms of a ${c.op!.runMs.toFixed(1)} ms profiled run; unmapped ${[...unmapped].map(([op, n]) => `${n} ${op}`).join(', ') || 'none'}; ${c.op!.absent} model nodes without a kernel`);
  }
  say(`wall time of this run: ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  console.log(`report: ${writeReport('latency-predictor.md', lines.join('\n') + '\n')}`);
}

await main();
