// edgefit search MODEL --calib DIR [--eval DIR] [--class CLASS [--provider P]] [...] [--out DIR] [--json]
// NSGA-II over size × precision × per-group pruning × per-conv factorization
// (compress/search/run.ts). Without --class it searches for this machine: the
// latency predictor is fitted from operator profiles taken here, and the
// front is timed here (one live session at a time, --threads threads). With
// --class the predictor is fitted from the controller's operator profiles of
// that class and provider, and nothing is timed here.
import os from 'node:os';
import path from 'node:path';
import { mkdirSync, writeFileSync } from 'node:fs';
import { choiceFlag, intFlag, numberFlag, parse, printJson, requireFlag, UsageError } from './args.js';
import { usageLine, type CommandSpec } from './command-spec.js';
import { refuseFile, writeModelOutput } from './files.js';
import { ApiClient } from './api-client.js';
import { classPredictor } from './search-class.js';
import { cpuLatency, fitLocalPredictor, feedsFor, median, timeInterleaved } from '../agent/profile/fit-predictor.js';
import { calibrationFromFiles, modelInputSize } from '../compress/calibration.js';
import { loadDataset } from '../compress/detect/dataset.js';
import { progressBar, type ProgressBar } from '../compress/detect/progress.js';
import type { Precision } from '../compress/latency/features.js';
import { readLineage, sha256Hex } from '../compress/lineage.js';
import { dequantizeModel } from '../compress/onnx/dequantize.js';
import { weightFormat } from '../compress/onnx/info.js';
import { readModelFileBytes } from '../compress/onnx/read.js';
import { writeModel } from '../compress/onnx/write.js';
import { genomeLabel, runSearch, type SearchResult } from '../compress/search/run.js';
import { EXECUTION_PROVIDERS } from '../protocol/messages.js';

const PRECISIONS = ['fp32', 'fp16', 'int8'] as const;
export const DEFAULT_SIZES = [640, 576, 512, 448, 416, 384, 320];

/** '640,512' → [640, 512]: every size a multiple of 32 in [32, 4096], none twice. */
export function sizesFlag(value: string | undefined, fallback: number[]): number[] {
  if (value === undefined) return fallback;
  const sizes = value.split(',').map((s) => s.trim());
  const bad = sizes.find((s) => !/^\d+$/.test(s) || Number(s) < 32 || Number(s) > 4096 || Number(s) % 32 !== 0);
  if (bad !== undefined) throw new UsageError(`search: --sizes takes input sizes that are multiples of 32 in [32, 4096], comma-separated, got '${bad}' in '${value}'`);
  if (new Set(sizes).size !== sizes.length) throw new UsageError(`search: --sizes names a size twice ('${value}')`);
  return sizes.map(Number).sort((a, b) => b - a);
}

export function precisionsFlag(value: string | undefined): Precision[] {
  if (value === undefined) return [...PRECISIONS];
  const list = value.split(',').map((s) => s.trim());
  const bad = list.find((p) => !(PRECISIONS as readonly string[]).includes(p));
  if (bad !== undefined) throw new UsageError(`search: --precisions takes ${PRECISIONS.join(', ')}, comma-separated, got '${bad}'`);
  if (!list.includes('fp32')) throw new UsageError('search: --precisions must include fp32 (the base model is one of the candidates)');
  return ['fp32', ...new Set(list.filter((p) => p !== 'fp32'))] as Precision[];
}

const fmt = (x: number | undefined, d: number) => (x === undefined ? '—' : x.toFixed(d));

function table(r: SearchResult, threads: number, where: string): string {
  const lines = [
    `${r.front.length} searched candidates, ${r.generations} generations, ${r.evaluations} genomes evaluated, ${r.seconds.toFixed(0)} s (set-up ${r.stageSeconds.setup.toFixed(0)} s, search ${r.stageSeconds.search.toFixed(1)} s, front ${r.stageSeconds.front.toFixed(0)} s)`,
    `latency for ${threads} onnxruntime thread${threads === 1 ? '' : 's'} ${where}; fidelity: held-out images, mAP50-95 against the base model`,
    `${'name'.padEnd(12)} ${'genome'.padEnd(36)} ${'pred ms'.padStart(8)} ${'meas ms'.padStart(8)} ${'pred loss'.padStart(9)} ${'fidelity'.padStart(8)}`,
  ];
  for (const c of r.front) lines.push(`${c.name.padEnd(12)} ${genomeLabel(c.genome, r.space).padEnd(36)} ${fmt(c.predictedMs, 1).padStart(8)} ${fmt(c.measuredMs, 1).padStart(8)} ${fmt(c.predictedLoss, 3).padStart(9)} ${fmt(c.fidelity, 3).padStart(8)}`);
  return lines.join('\n') + '\n';
}

export async function run(argv: string[], spec: CommandSpec): Promise<number> {
  const { values, positionals } = parse('search', argv, {
    calib: { type: 'string' }, eval: { type: 'string' }, class: { type: 'string' }, controller: { type: 'string' }, data: { type: 'string' }, provider: { type: 'string' },
    threads: { type: 'string' }, population: { type: 'string' }, generations: { type: 'string' }, seed: { type: 'string' }, front: { type: 'string' },
    sizes: { type: 'string' }, precisions: { type: 'string' }, 'slo-ms': { type: 'string' }, reconstruct: { type: 'boolean' },
    ignore: { type: 'string', multiple: true }, out: { type: 'string', short: 'o' }, state: { type: 'string' }, cache: { type: 'string' }, json: { type: 'boolean' },
  });
  if (positionals.length !== 1) throw new UsageError(usageLine(spec));
  // Every flag is checked before the model is read: a mistake costs nothing, not minutes of profiling.
  const calibDir = requireFlag('search', 'calib', values.calib);
  const threads = intFlag('search', 'threads', values.threads, 1, 1, 256);
  const populationSize = intFlag('search', 'population', values.population, 48, 4, 10_000);
  const generations = intFlag('search', 'generations', values.generations, 40, 1, 100_000);
  const seed = intFlag('search', 'seed', values.seed, 0, 0, 2 ** 32 - 1);
  const front = intFlag('search', 'front', values.front, 8, 1, 64);
  const precisions = precisionsFlag(values.precisions);
  const sizesGiven = values.sizes === undefined ? undefined : sizesFlag(values.sizes, []);
  const sloMs = values['slo-ms'] === undefined ? undefined : numberFlag('search', 'slo-ms', values['slo-ms'], 0, 0.001, 1e6);
  const ignore = (values.ignore ?? []).map((p) => {
    try {
      return new RegExp(p);
    } catch (err) {
      throw new UsageError(`search: --ignore '${p}' is not a regular expression: ${(err as Error).message}`);
    }
  });
  const provider = choiceFlag('search', 'provider', values.provider, EXECUTION_PROVIDERS, 'cpu');
  if (values.class === undefined) {
    if (values.provider !== undefined && provider !== 'cpu') throw new UsageError(`search: without --class the search profiles this machine's CPU; --provider ${provider} needs --class`);
    for (const f of ['controller', 'data'] as const) if (values[f] !== undefined) throw new UsageError(`search: --${f} is read with --class only`);
  } else if (!/^[0-9a-f]{16}$/.test(values.class)) throw new UsageError(`search: --class is a device class id (16 hex digits, as 'devices' shows), got '${values.class}'`);
  const out = path.resolve(values.out ?? 'search-out');
  refuseFile('search', 'out', out);
  if (values.cache !== undefined) refuseFile('search', 'cache', values.cache);
  const statePath = path.resolve(values.state ?? path.join(out, 'state.json'));
  const api = values.class === undefined ? undefined : ApiClient.fromFlags('search', values.controller, values.data);

  const { bytes, model: read } = readModelFileBytes(positionals[0]);
  const baseSha256 = sha256Hex(bytes);
  const format = weightFormat(read);
  if (format !== 'fp32' && format !== 'qdq-int8' && format !== 'dynamic-int8') throw new UsageError(`search: the base model must be an fp32 export (or an int8 one edgefit can dequantize), this one's weights are ${format}`);
  const base = format === 'fp32' ? read : dequantizeModel(read, { baseSha256 }).model;
  const baseSize = modelInputSize(base);
  const sizes = sizesGiven ?? [baseSize, ...DEFAULT_SIZES.filter((s) => s < baseSize)];
  if (sizes[0] !== baseSize) throw new UsageError(`search: the largest of --sizes must be the model's input size ${baseSize} (the base candidate), got ${sizes[0]}`);

  // Held out: --eval, else a quarter of the --calib images (never calibrated on).
  const calibFiles = (await loadDataset(calibDir)).items.map((i) => i.imagePath).slice(0, 32);
  let heldOut: string[];
  let calibrationFiles = calibFiles;
  if (values.eval !== undefined) heldOut = (await loadDataset(values.eval)).items.map((i) => i.imagePath).slice(0, 64);
  else {
    if (calibFiles.length < 2) throw new UsageError(`search: ${calibDir} has ${calibFiles.length} image; without --eval a quarter of --calib is held out, which needs 2 images at least`);
    const every = Math.min(4, calibFiles.length);
    heldOut = calibFiles.filter((_, i) => i % every === every - 1);
    calibrationFiles = calibFiles.filter((_, i) => i % every !== every - 1);
  }
  const calibration = await calibrationFromFiles(calibrationFiles, baseSize, { minInputs: 16 });

  let bar: ProgressBar | undefined;
  let stage = '';
  const onProgress = values.json ? undefined : (p: { stage: string; done: number; total: number }) => {
    if (p.stage !== stage) {
      bar?.finish();
      bar = progressBar(p.stage);
      stage = p.stage;
    }
    bar?.update(p.done, p.total);
  };
  try {
    const predictor = api ? await classPredictor(api, values.class!, provider, threads, values.data) : undefined;
    const result = await runSearch({
      base, baseSha256, calibration, heldOut, predictor, threads, populationSize, generations, seed, front, sizes, precisions,
      slo: sloMs === undefined ? undefined : { maxLatencyMs: sloMs },
      reconstruct: !!values.reconstruct,
      ignore,
      statePath,
      cacheDir: values.cache ?? path.join(os.homedir(), '.cache', 'edgefit'),
      fitPredictor: async () => (await fitLocalPredictor(base, { calibration, threads, sizes: [sizes[0], sizes.at(-1)!], onProgress: (p) => onProgress?.({ ...p, stage: `latency predictor: ${p.stage}` }) })).predictor,
      measureLatency: api ? undefined : async (models) => {
        const list = models.map((m) => ({ bytes: writeModel(m), size: modelInputSize(m) }));
        const times = await timeInterleaved(list, await feedsFor(list.map((c) => c.size), calibration), { threads, passes: 3, runs: 5 });
        // the predictor's clock (fitLocalPredictor): with one thread the lower quartile of per-run CPU time, else the wall median
        return times.map((t) => (threads === 1 ? cpuLatency(t.cpu) : median(t.wall)));
      },
      onProgress,
    });
    bar?.finish();
    mkdirSync(out, { recursive: true });
    const candidates = result.front.map((c) => {
      const file = path.join(out, `${c.name}.onnx`);
      writeModelOutput(c.model, file);
      return { name: c.name, file, label: genomeLabel(c.genome, result.space), genome: c.genome, predictedMs: c.predictedMs, measuredMs: c.measuredMs ?? null, predictedLoss: c.predictedLoss, fidelity: c.fidelity, lineage: readLineage(c.model) };
    });
    const doc = {
      model: positionals[0], baseSha256, threads, provider, deviceClass: values.class ?? null,
      latency: api ? `predicted for class ${values.class} (${provider}, ${threads} threads); not measured here` : `measured here: 3 interleaved passes × 5 runs, one live session at a time, ${threads} onnxruntime thread(s); ${threads === 1 ? 'lower quartile of per-run CPU time' : 'wall median'}, the clock the local predictor is fitted on`,
      generations: result.generations, evaluations: result.evaluations, seconds: result.seconds, stageSeconds: result.stageSeconds, ...(result.recoveryScale ? { recoveryScale: result.recoveryScale } : {}),
      heldOut, calibration: calibrationFiles, candidates,
    };
    writeFileSync(path.join(out, 'front.json'), JSON.stringify(doc, null, 2) + '\n');
    if (values.json) printJson({ out, ...doc });
    else process.stdout.write(table(result, threads, api ? `(predicted for class ${values.class}, ${provider})` : '(measured here)') + `front written to ${out}\n`);
    return 0;
  } catch (err) {
    bar?.finish();
    throw err;
  }
}
