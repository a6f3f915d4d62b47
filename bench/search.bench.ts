// Does the searched front beat the fixed ladder (issue #21)? On the fixture
// YOLOv8n (the float graph of the QDQ fixture), calibrated on coco8 train and
// judged on held-out images only (six images, and their 48 seeded views,
// bench/held-out-views.ts):
//   1. the search for this machine (compress/search/run.ts): predictor fitted
//      here by op-profiling a fit set (one thread), NSGA-II, the front built;
//   2. the default ladder's candidates, built by the ladder code
//      (controller/catalog/ladder.ts generateLadder, not a copy of it);
//   3. every ladder and searched candidate timed in one run, interleaved
//      (PASSES passes over all, one live session at a time, one thread;
//      the lower quartile of per-run CPU time, the clock the local predictor
//      is fitted on, with the wall median beside it), and judged on both
//      held-out measures;
//   4. compareToLadder at each ladder candidate's latency (±5%) and the
//      goals (≥ 0.90 at ≤ 0.45×, ≥ 0.70 at ≤ 0.30× fp32 latency), per measure.
// Env: SEARCH_POPULATION (48), SEARCH_GENERATIONS (40), SEARCH_FRONT (8),
// SEARCH_SEED (0), SEARCH_RECONSTRUCT (1), SEARCH_FACTOR (1; 0 leaves
// factorization out of the space, which saves its 56 measured terms), SEARCH_LADDER (all | sizes: the 12
// size × precision candidates only), SEARCH_PASSES (5), SEARCH_CACHE (a
// folder for the sensitivities and terms; default a fresh one, so the wall
// time counts them).
// Run: npm run build && node dist/bench/search.bench.js
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { cpuLatency, feedsFor, fitLocalPredictor, median, timeInterleaved } from '../agent/profile/fit-predictor.js';
import { modelInputSize } from '../compress/calibration.js';
import type { Model } from '../compress/onnx/ir.js';
import { readModelFile } from '../compress/onnx/read.js';
import { writeModel } from '../compress/onnx/write.js';
import { sha256Hex } from '../compress/lineage.js';
import { compareToLadder, reachesGoal, type FrontPoint } from '../compress/search/front.js';
import { genomeLabel, runSearch } from '../compress/search/run.js';
import { generateLadder, ladderRecipes, sizeByPrecision } from '../controller/catalog/ladder.js';
import { calibrationDir, fixtureModelOrSkip, fixturesDir, writeReport } from './common.js';
import { heldOutProtocol } from './held-out-views.js';

const env = (name: string, fallback: number) => (process.env[name] === undefined ? fallback : Number(process.env[name]));
const POPULATION = env('SEARCH_POPULATION', 48);
const GENERATIONS = env('SEARCH_GENERATIONS', 40);
const FRONT = env('SEARCH_FRONT', 8);
const SEED = env('SEARCH_SEED', 0);
const RECONSTRUCT = env('SEARCH_RECONSTRUCT', 1) !== 0;
const PASSES = env('SEARCH_PASSES', 5);
const FACTOR = env('SEARCH_FACTOR', 1) !== 0;
const RUNS = 5;
const THREADS = 1;
const SIZES = [640, 576, 512, 448, 416, 384, 320];

interface Timed {
  name: string;
  kind: 'ladder' | 'searched';
  model: Model;
  label: string;
  predictedMs?: number;
  /** Lower quartile of per-run CPU time (one thread: the predictor's clock); ratios are taken on it. */
  ms?: number;
  wallMs?: number;
  images?: number;
  views?: number;
}

async function main(): Promise<void> {
  const file = fixtureModelOrSkip('search');
  if (!file) return;
  const t0 = performance.now();
  const protocol = await heldOutProtocol(file, 8);
  const base = protocol.model;
  const baseSha256 = sha256Hex(protocol.bytes);
  const cacheDir = process.env.SEARCH_CACHE ?? mkdtempSync(path.join(os.tmpdir(), 'edgefit-search-bench-'));
  const log = (s: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${s}\n`);

  // 1. the search, timed as `edgefit search` would run it (predictor fit, terms, generations, front build + held-out fidelity)
  let lastStage = '';
  const tSearch = performance.now();
  const result = await runSearch({
    base, baseSha256, calibration: protocol.calibration, heldOut: protocol.heldOut, threads: THREADS,
    populationSize: POPULATION, generations: GENERATIONS, seed: SEED, front: FRONT, sizes: SIZES, precisions: ['fp32', 'fp16', 'int8'],
    reconstruct: RECONSTRUCT, cacheDir, ...(FACTOR ? {} : { factor: false as const }),
    fitPredictor: async () => (await fitLocalPredictor(base, { calibration: protocol.calibration, threads: THREADS, sizes: [SIZES[0], SIZES.at(-1)!] })).predictor,
    onProgress: (p) => {
      if (p.stage !== lastStage || p.done === p.total) log(`search: ${p.stage} ${p.done}/${p.total}${p.message ? ` ${p.message}` : ''}`);
      lastStage = p.stage;
    },
  });
  const searchS = (performance.now() - tSearch) / 1000;

  // 2. the ladder, by its own code
  const tLadder = performance.now();
  const recipes = process.env.SEARCH_LADDER === 'sizes' ? sizeByPrecision([640, 512, 416, 320], ['fp32', 'fp16', 'int8']) : ladderRecipes('default', undefined, { calibrated: true });
  const ladderDir = mkdtempSync(path.join(os.tmpdir(), 'edgefit-search-ladder-'));
  const ladder = await generateLadder({ base: readModelFile(file), baseSha256, synthetic: false, recipes, outDir: ladderDir, calibDir: calibrationDir, evalDir: path.join(fixturesDir, 'coco8', 'images', 'val') }, (d, t, m) => log(`ladder: ${d}/${t} ${m}`));
  const ladderS = (performance.now() - tLadder) / 1000;

  const all: Timed[] = [
    ...ladder.candidates.map((c): Timed => ({ name: c.name, kind: 'ladder', model: readModelFile(c.file), label: c.method })),
    ...result.front.map((c): Timed => ({ name: c.name, kind: 'searched', model: c.model, label: genomeLabel(c.genome, result.space), predictedMs: c.predictedMs })),
  ];
  // 3. held-out fidelity on both measures, then latency interleaved over every candidate
  for (const c of all) {
    const j = await protocol.judge(c.model);
    c.images = j.images;
    c.views = j.views;
    log(`judged ${c.name}: ${j.images.toFixed(3)} / ${j.views.toFixed(3)}`);
  }
  const list = all.map((c) => ({ bytes: writeModel(c.model), size: modelInputSize(c.model) }));
  const load0 = os.loadavg()[0];
  const tTime = performance.now();
  const times = await timeInterleaved(list, await feedsFor(list.map((c) => c.size), protocol.calibration), { threads: THREADS, passes: PASSES, runs: RUNS, onPass: (d, t) => d % all.length === 0 && log(`timing pass ${d / all.length}/${t / all.length}`) });
  const timeS = (performance.now() - tTime) / 1000;
  const load1 = os.loadavg()[0];
  all.forEach((c, i) => {
    c.ms = cpuLatency(times[i].cpu);
    c.wallMs = median(times[i].wall);
  });
  const fp32 = all.find((c) => c.kind === 'ladder' && c.name === 'fp32-640');
  if (!fp32) throw new Error('the ladder has no fp32-640 candidate to take ratios against');

  const lines: string[] = [];
  const say = (s = '') => {
    lines.push(s);
    console.log(s);
  };
  const ratio = (c: Timed) => c.ms! / fp32.ms!;
  say(`# Searched front against the default ladder (issue #21)`);
  say();
  say(`YOLOv8n fixture (float graph of the QDQ fixture); ${os.cpus()[0]?.model ?? 'unknown CPU'} (${os.cpus().length} logical cores), onnxruntime ${ort.env.versions?.common ?? ''} cpu, **${THREADS} intra-op thread**, one live session at a time.`);
  say(`Latency: lower quartile of per-run CPU time (the local predictor's clock with one thread; wall median beside it) over ${PASSES} passes × ${RUNS} runs, passes interleaved over all ${all.length} candidates (${timeS.toFixed(0)} s), load average ${load0.toFixed(1)} → ${load1.toFixed(1)}. Ratios against fp32-640 of the same run (${fp32.ms!.toFixed(1)} ms).`);
  say(`Fidelity: held-out only; "images" = ${protocol.heldOut.length} images (coco8 val, bus, zidane), "views" = ${protocol.views.boxes} baseline boxes on 8 seeded views of each.`);
  say(`Search: population ${POPULATION}, ${result.generations} generations, ${result.evaluations} genomes evaluated, seed ${SEED}, front ${FRONT}, reconstruct ${RECONSTRUCT}, factorization ${FACTOR ? 'in' : 'out of'} the space; wall ${searchS.toFixed(0)} s (set-up incl. sensitivity, loss terms and predictor fit ${result.stageSeconds.setup.toFixed(0)} s, generations ${result.stageSeconds.search.toFixed(1)} s = ${((1e6 * result.stageSeconds.search) / Math.max(1, result.evaluations)).toFixed(0)} µs per evaluated genome, front build + held-out fidelity ${result.stageSeconds.front.toFixed(0)} s); goal ≤ 900 s on this 2-core machine. Cache: ${process.env.SEARCH_CACHE ? 'given (may be warm)' : 'fresh (cold)'}.`);
  if (result.recoveryScale) {
    const r = result.recoveryScale;
    const probes = r.probes.map((p) => `${p.kind} ${p.depth}: predicted ${p.predicted.toFixed(3)} unrecovered, measured ${p.measured.toFixed(3)} recovered (${p.heldBack ? 'held-back calibration sources' : 'in-sample'})`).join('; ');
    say(`Recovery curves of the loss terms (recovered loss = a·S^b of a kind's summed terms S): prune a ${r.prune.a.toFixed(3)}, b ${r.prune.b.toFixed(3)}; factor a ${r.factor.a.toFixed(3)}, b ${r.factor.b.toFixed(3)}. Probes: ${probes}.`);
  }
  say(`Ladder: ${ladder.candidates.length} candidates built in ${ladderS.toFixed(0)} s${ladder.skipped.length ? `; skipped ${ladder.skipped.map((s) => `${s.name} (${s.reason})`).join(', ')}` : ''}.`);
  say();
  say(`| candidate | kind | recipe / genome | predicted ms | CPU ms | wall ms | × fp32 | fidelity images | fidelity views |`);
  say(`|---|---|---|---:|---:|---:|---:|---:|---:|`);
  for (const c of [...all].sort((a, b) => a.ms! - b.ms!)) {
    say(`| ${c.name} | ${c.kind} | ${c.label} | ${c.predictedMs === undefined ? '' : c.predictedMs.toFixed(1)} | ${c.ms!.toFixed(1)} | ${c.wallMs!.toFixed(1)} | ${ratio(c).toFixed(3)} | ${c.images!.toFixed(3)} | ${c.views!.toFixed(3)} |`);
  }
  const searchedPts = (m: 'images' | 'views'): FrontPoint[] => all.filter((c) => c.kind === 'searched').map((c) => ({ name: c.name, latencyRatio: ratio(c), fidelity: c[m]! }));
  const ladderPts = (m: 'images' | 'views'): FrontPoint[] => all.filter((c) => c.kind === 'ladder').map((c) => ({ name: c.name, latencyRatio: ratio(c), fidelity: c[m]! }));
  for (const m of ['images', 'views'] as const) {
    const cmp = compareToLadder(searchedPts(m), ladderPts(m));
    say();
    say(`## ${m}: at each ladder candidate's latency (+5%), the best searched candidate`);
    say(`| ladder | × fp32 | fidelity | best searched | × fp32 | fidelity | ≥ | > |`);
    say(`|---|---:|---:|---|---:|---:|:-:|:-:|`);
    for (const r of cmp.rows) say(`| ${r.ladder.name} | ${r.ladder.latencyRatio.toFixed(3)} | ${r.ladder.fidelity.toFixed(3)} | ${r.best?.name ?? '—'} | ${r.best?.latencyRatio.toFixed(3) ?? ''} | ${r.best?.fidelity.toFixed(3) ?? ''} | ${r.atLeast ? 'yes' : 'no'} | ${r.strictlyHigher ? 'yes' : ''} |`);
    say(`At least as high at every ladder latency: **${cmp.beatsAtEvery ? 'yes' : 'no'}** (${cmp.rows.filter((r) => r.atLeast).length}/${cmp.rows.length}); strictly higher at ${cmp.strictlyHigherAt} (goal: all, and ≥ 2 strictly).`);
    for (const goal of [{ fidelity: 0.9, latencyRatio: 0.45 }, { fidelity: 0.7, latencyRatio: 0.3 }]) {
      const g = reachesGoal(searchedPts(m), goal);
      say(`Goal ≥ ${goal.fidelity.toFixed(2)} at ≤ ${goal.latencyRatio.toFixed(2)}× fp32: **${g.reached ? 'reached' : 'not reached'}**${g.best ? ` (best there: ${g.best.name}, ${g.best.fidelity.toFixed(3)} at ${g.best.latencyRatio.toFixed(3)}×)` : ' (no searched candidate that fast)'}.`);
    }
  }
  say();
  say(`Total bench wall time ${((performance.now() - t0) / 1000).toFixed(0)} s.`);
  console.log(`report: ${writeReport('search.md', lines.join('\n') + '\n')}`);
}

await main();
