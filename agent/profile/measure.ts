// The measurement itself. It runs inside the isolated profiling child
// (isolate.ts), so the process holds nothing but the model being measured and
// its RSS, CPU time and peak memory are the model's own.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { Detector } from '../../compress/detect/detector.js';
import type { RgbImage } from '../../compress/detect/image.js';
import { Letterboxer } from '../../compress/detect/letterbox.js';
import type { OpProfileReport, ProfileOptions, ProfileReport, ProfileRun } from '../../protocol/messages.js';
import { oneLine } from '../../protocol/one-line.js';
import { runCheck, type CheckFrame } from './check.js';
import { createSensors, throttledNow, type ThrottleFlags } from '../sensors/index.js';
import { loadedProviders } from '../onnxruntime/binding.js';
import { applyProviderEnv, sessionProviders, type SessionProviders } from '../onnxruntime/providers.js';
import type { SourceSpec } from '../source/spec.js';
import { openE2eFrames, type E2eFrames } from './e2e-frames.js';
import { processMemory } from './memory.js';
import { measureOpProfile, OP_PROFILE_MAX_RUNS, OP_PROFILE_RUNS } from './op-profile.js';
import { fpsOf, latencyStats, windowFps } from './stats.js';
import { ThermalWatch } from './thermal-watch.js';
import { codedError } from '../../protocol/errors.js';

export type MeasuredProfile = Omit<ProfileReport, 'environment'>;

export interface MeasureInput {
  modelPath: string;
  options: ProfileOptions;
  /** Folder of frames for the end-to-end phases; default the built-in scenes. */
  framesDir?: string;
  /** The agent's --source, opened here at the model's input size: the end-to-end phases decode from it. Supersedes framesDir. */
  source?: SourceSpec;
  /** The agent's state folder, where TensorRT keeps its engines per model; default ./.edgefit-agent. */
  stateDir?: string;
  /** Reference frames of the on-device check, run on the session of the last thread count once everything is measured. */
  check?: CheckFrame[];
}

/** A measurement stopped on purpose (temperature limit): a failed result, not a crash. */
export class ProfileAborted extends codedError('E_PROFILE_ABORTED') {
  override name = 'ProfileAborted';
}

const MB = 1024 * 1024;
const DEFAULT_RUNS = 100;
const round2 = (x: number) => Math.round(x * 100) / 100;

/** Which onnxruntime providers to ask for, and with what options; the CPU provider always backs the others up. */
export function providersFor(options: ProfileOptions, stateDir: string, modelSha256: string): SessionProviders {
  const available = loadedProviders(ort.listSupportedBackends());
  if (!available.includes(options.ep)) throw new Error(`execution provider '${options.ep}' is not in this onnxruntime build (it has: ${available.join(', ')})`);
  return sessionProviders(options.ep, options.providerOptions, stateDir, modelSha256);
}

interface Budget {
  runs: number;
  durationMs: number;
}

function budgetOf(options: ProfileOptions): Budget {
  if (options.runs === undefined && options.durationS === undefined) return { runs: DEFAULT_RUNS, durationMs: Infinity };
  return { runs: options.runs ?? Infinity, durationMs: options.durationS === undefined ? Infinity : options.durationS * 1000 };
}

/** Runs `step` until the budget is spent; returns per-call latencies and completion times (ms). */
async function loop(step: () => Promise<unknown>, budget: Budget, watch: ThermalWatch): Promise<{ latencies: number[]; doneAt: number[]; startedAt: number }> {
  const latencies: number[] = [];
  const doneAt: number[] = [];
  const startedAt = performance.now();
  while (latencies.length < budget.runs && performance.now() - startedAt < budget.durationMs) {
    if (watch.overLimit) throw new ProfileAborted(`aborted: ${watch.overLimit}`);
    const t0 = performance.now();
    await step();
    const t1 = performance.now();
    latencies.push(t1 - t0);
    doneAt.push(t1);
  }
  return { latencies, doneAt, startedAt };
}

/** A model-only input: the letterboxed frame, so the data is a real image's. */
function modelFeed(detector: Detector, frame: RgbImage): ort.Tensor {
  const dims = [1, 3, detector.inputHeight, detector.inputWidth];
  if (detector.inputType === 'float16') {
    // Half-precision input: zeros (0x0000 is 0.0) cost the same to convolve as pixels do.
    return new ort.Tensor('float16', new Uint16Array(3 * detector.inputHeight * detector.inputWidth), dims);
  }
  const { tensor } = new Letterboxer(detector.inputWidth, detector.inputHeight).run(frame);
  return new ort.Tensor('float32', Float32Array.from(tensor), dims);
}

interface RunOutcome {
  run: ProfileRun;
  inputShape: number[];
  outputShape: Array<number | string>;
  rssAfterLoadMb: number;
  rssGrowthMb: number;
  check?: ProfileReport['check'];
  /** The process' high-water mark just before the check ran (bytes). */
  peakBytesBeforeCheck?: number;
  opProfile?: OpProfileReport;
  opProfileError?: string;
}

/** Opens the frames at the first detector's input size; later thread counts share them. */
type FramesAt = (size: { width: number; height: number }) => Promise<E2eFrames>;

async function measureOne(bytes: Uint8Array, threads: number | null, options: ProfileOptions, providers: SessionProviders, framesAt: FramesAt, watch: ThermalWatch, check?: CheckFrame[], opProfile = false): Promise<RunOutcome> {
  applyProviderEnv(providers.env);
  const t0 = performance.now();
  const detector = await Detector.create(bytes, {
    executionProviders: providers.executionProviders,
    ...(threads === null ? {} : { intraOpThreads: threads }),
  });
  const sessionCreateMs = performance.now() - t0;
  try {
    const rssAfterLoad = processMemory().rssBytes();
    const frames = await framesAt({ width: detector.inputWidth, height: detector.inputHeight });
    const frame = frames.first;
    const feed = modelFeed(detector, frame);
    const feeds = { [detector.inputName]: feed };
    for (let i = 0; i < options.warmup; i++) {
      if (watch.overLimit) throw new ProfileAborted(`aborted: ${watch.overLimit}`);
      await detector.detect(frame);
    }
    const rssAfterWarmup = processMemory().rssBytes();
    const budget = budgetOf(options);
    const cpu0 = process.cpuUsage();
    const wall0 = performance.now();
    const model = await loop(() => detector.session.run(feeds), budget, watch);
    // end to end: the next frame (decoded and letterboxed by the source, when there is one) through the detector
    const e2e = await loop(async () => detector.detect(await frames.next()), budget, watch);
    let sustained: ProfileRun['sustained'] = null;
    if (options.sustainedS !== undefined) {
      const s = await loop(async () => detector.detect(await frames.next()), { runs: Infinity, durationMs: options.sustainedS * 1000 }, watch);
      const end = s.doneAt.at(-1) ?? s.startedAt;
      // Ten-second windows as asked; a short run compares its first and last thirds.
      const windowMs = Math.min(10_000, (end - s.startedAt) / 3);
      const firstFps = windowFps(s.doneAt, s.startedAt, s.startedAt + windowMs);
      const lastFps = windowFps(s.doneAt, end - windowMs, end + 1e-9);
      sustained = {
        durationS: round2((end - s.startedAt) / 1000),
        windowS: round2(windowMs / 1000),
        firstFps: round2(firstFps),
        lastFps: round2(lastFps),
        dropPct: firstFps > 0 ? round2(100 * (1 - lastFps / firstFps)) : 0,
      };
    }
    const cpu = process.cpuUsage(cpu0);
    const wallMs = performance.now() - wall0;
    const modelStats = latencyStats(model.latencies);
    const e2eStats = latencyStats(e2e.latencies);
    const meta = detector.session.outputMetadata[0];
    // After the phases and after their memory is read: the check's decoded frames are not the model's memory.
    const rssGrowth = processMemory().rssBytes() - rssAfterWarmup;
    const peakBytesBeforeCheck = processMemory().peakBytes();
    const checked = check?.length ? await runCheck(detector, check) : undefined;
    // after everything measured, in a session of its own: the profiler's bookkeeping stays out of the figures above
    let op: { opProfile: OpProfileReport } | { opProfileError: string } | undefined;
    if (opProfile) {
      try {
        op = { opProfile: await measureOpProfile({ bytes, threads, executionProviders: providers.executionProviders, feeds, warmup: Math.min(options.warmup, 5), runs: Math.min(options.runs ?? OP_PROFILE_RUNS, OP_PROFILE_MAX_RUNS) }) };
      } catch (err) {
        op = { opProfileError: `operator profile: ${oneLine(err instanceof Error ? err.message : String(err), 1900)}` };
      }
    }
    return {
      ...op,
      ...(checked ? { check: checked } : {}),
      run: {
        threads,
        sessionCreateMs: round2(sessionCreateMs),
        warmupRuns: options.warmup,
        model: modelStats,
        modelFps: fpsOf(modelStats),
        endToEnd: e2eStats,
        endToEndFps: fpsOf(e2eStats),
        sustained,
        // Percent of one core, like top: 2 busy cores read 200.
        cpuPct: wallMs > 0 ? round2((100 * (cpu.user + cpu.system)) / 1000 / wallMs) : null,
      },
      inputShape: [1, 3, detector.inputHeight, detector.inputWidth],
      outputShape: meta?.isTensor ? meta.shape.map((d) => (typeof d === 'number' ? d : String(d))) : [],
      rssAfterLoadMb: round2(rssAfterLoad / MB),
      rssGrowthMb: round2(rssGrowth / MB),
      ...(checked || op ? { peakBytesBeforeCheck } : {}),
    };
  } finally {
    await detector.release();
  }
}

function flagNames(flags: ThrottleFlags): string[] {
  return Object.entries(flags).filter(([k, v]) => k !== 'raw' && v === true).map(([k]) => k);
}

/** Profiles one model file: session creation, warm-up, model-only and end-to-end phases, per thread count. */
export async function measureProfile(input: MeasureInput): Promise<MeasuredProfile> {
  const wall0 = performance.now();
  const { options } = input;
  let bytes: Uint8Array;
  try {
    bytes = await readFile(input.modelPath);
  } catch (err) {
    throw new Error(`${input.modelPath}: cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const modelSha256 = createHash('sha256').update(bytes).digest('hex');
  const providers = providersFor(options, path.resolve(input.stateDir ?? '.edgefit-agent'), modelSha256);
  let opened: Promise<E2eFrames> | undefined;
  const framesAt: FramesAt = (size) => (opened ??= openE2eFrames(input, size));
  const sensors = createSensors();
  const watch = new ThermalWatch(options.maxTempC);
  try {
    const before = await sensors.snapshot();
    await watch.sample();
    if (watch.overLimit) throw new ProfileAborted(`not started: ${watch.overLimit}`);
    watch.start();
    const threadCounts: Array<number | null> = options.threadsSweep ?? [options.threads ?? null];
    const outcomes: RunOutcome[] = [];
    for (const [i, t] of threadCounts.entries()) {
      const last = i === threadCounts.length - 1;
      outcomes.push(await measureOne(bytes, t, options, providers, framesAt, watch, last ? input.check : undefined, last && options.opProfile === true));
    }
    watch.stop();
    await watch.sample();
    const after = await sensors.snapshot();
    // opened by the first thread count's run (it knows the model's input size)
    const used = await opened!;
    const best = outcomes.reduce((a, b) => (b.run.endToEndFps > a.run.endToEndFps ? b : a));
    const throttle = after.throttled;
    return {
      ...best.run,
      ep: options.ep,
      ...(options.providerOptions ? { providerOptions: options.providerOptions } : {}),
      modelSha256,
      inputShape: best.inputShape,
      outputShape: best.outputShape,
      frame: { ...used.size, source: used.name },
      memory: {
        rssAfterLoadMb: best.rssAfterLoadMb,
        // the process' high-water mark (it sees spikes that sampling misses), read before the check if one ran
        peakRssMb: round2((outcomes.at(-1)!.peakBytesBeforeCheck ?? processMemory().peakBytes()) / MB),
        rssGrowthMb: best.rssGrowthMb,
        source: processMemory().source,
      },
      temperature: {
        beforeC: before.temperatureC,
        peakC: [watch.peakTempC, after.temperatureC].reduce<number | null>((a, b) => (a === null ? b : b === null ? a : Math.max(a, b)), null),
        afterC: after.temperatureC,
      },
      throttling: {
        maxClockDropPct: watch.maxClockDropPct,
        cpuMaxFreqMHz: watch.cpuMaxFreqMHz ?? after.cpuMaxFreqMHz,
        // Latched since-boot bits count only when this run set them.
        firmwareThrottled: throttle ? throttledNow(throttle.flags) || (throttle.occurred === true && before.throttled?.occurred !== true) : null,
        firmwareFlags: throttle ? flagNames(throttle.flags) : null,
      },
      sweep: options.threadsSweep ? outcomes.map((o) => o.run) : null,
      ...(outcomes.at(-1)!.check ? { check: outcomes.at(-1)!.check } : {}),
      ...(outcomes.at(-1)!.opProfile ? { opProfile: outcomes.at(-1)!.opProfile } : {}),
      ...(outcomes.at(-1)!.opProfileError ? { opProfileError: outcomes.at(-1)!.opProfileError } : {}),
      wallS: round2((performance.now() - wall0) / 1000),
    };
  } finally {
    watch.stop();
    await sensors.close();
    await (await opened?.catch(() => undefined))?.close();
  }
}
