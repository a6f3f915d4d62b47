/**
 * NVIDIA Jetson `tegrastats`: parse one output line, and run the tool as a stream of samples.
 *
 * Field meanings follow NVIDIA's tegrastats appendix (L4T 32.5 Development Guide,
 * "AppendixTegraStats") and the DRIVE OS tegrastats page. Formats seen on real devices differ a lot
 * (JetPack 4/5/6/7, the lowercase L4T 28 layout, non-root runs that drop fields), so the parser
 * looks for each field on its own and leaves anything it does not find as null.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { EdgefitError } from '../../protocol/errors.js';

export interface TegraCpu {
  /** Load relative to the core's current frequency; null when the core is off or no load is printed. */
  loadPct: number | null;
  freqMHz: number | null;
  /** false when tegrastats prints `off` (core powered down). */
  online: boolean;
}

export interface TegraEngine {
  /** false when tegrastats prints `off` for the engine. */
  online: boolean;
  loadPct: number | null;
  freqMHz: number | null;
}

export interface PowerRail {
  currentMw: number;
  averageMw: number;
}

export interface TegrastatsSample {
  /** Leading `MM-DD-YYYY HH:MM:SS` that JetPack 6+ prints, verbatim (no time zone is given). */
  timestamp: string | null;
  ramUsedMB: number | null;
  ramTotalMB: number | null;
  swapUsedMB: number | null;
  swapTotalMB: number | null;
  swapCachedMB: number | null;
  iramUsedKB: number | null;
  iramTotalKB: number | null;
  /** One entry per core, in printed order; empty when the line has no CPU field. */
  cpus: TegraCpu[];
  emcLoadPct: number | null;
  emcFreqMHz: number | null;
  gpuLoadPct: number | null;
  /** Highest GPC frequency when a bracketed list is printed (`@[713]`, `@[305,305]`). */
  gpuFreqMHz: number | null;
  /** The per-GPC list as printed, or null for the single-frequency format. */
  gpuGpcFreqMHz: number[] | null;
  /** Media/accelerator engines (NVENC, NVDEC, VIC, APE, NVDLA0, PVA0...), `_FREQ` suffix dropped. */
  engines: Record<string, TegraEngine>;
  /** Denver/Carmel MTS foreground/background load, only on TX2/Xavier-class boards. */
  mts: { fgPct: number; bgPct: number } | null;
  /** Sensor name exactly as printed (`cpu`, `CPU`, `soc0`, `tj`, `PMIC`...) → °C. */
  temperatures: Record<string, number>;
  /**
   * Rail name → power. JetPack 5+ prints `mW`; JetPack 4 prints bare numbers, which NVIDIA's
   * tegrastats appendix gives as milliwatts (current/average), and the magnitudes agree (an idle
   * Nano reads `POM_5V_IN 1022/1022`, about 1 W), so both are read as mW.
   */
  rails: Record<string, PowerRail>;
}

const NUM = String.raw`\d+(?:\.\d+)?`;
const TIMESTAMP = /^\s*(\d{2}-\d{2}-\d{4} \d{2}:\d{2}:\d{2})\b/;
const RAM = /\bRAM (\d+)\/(\d+)MB\b/;
const SWAP = /\bSWAP (\d+)\/(\d+)MB(?: \(cached (\d+)MB\))?/;
const IRAM = /\bIRAM (\d+)\/(\d+)kB/;
// Both `CPU [1%@345,off,...]` and the old `cpu [17%,13%]@408` (one shared frequency).
const CPU = /\b(?:CPU|cpu) \[([^\]]*)\](?:@(\d+))?/;
const EMC = /\bEMC(?:_FREQ)? (\d+)%(?:@(\d+))?/;
const GR3D = /\bGR3D(?:_FREQ)? (?:(\d+)%)?(?:@(?:\[([\d,]*)\]|(\d+)))?/;
const MTS = /\bMTS fg (\d+)% bg (\d+)%/;
const TEMPERATURE = new RegExp(String.raw`(?:^|\s)([A-Za-z][A-Za-z0-9_]*)@(-?${NUM})C(?=\s|$)`, 'g');
const RAIL = /(?:^|\s)([A-Z][A-Z0-9_]*) (\d+)(?:mW)?\/(\d+)(?:mW)?(?=\s|$)/g;
// An engine token: `NVENC 79%@166`, `NVDEC off`, `NVENC0_FREQ @0`, `VIC_FREQ 729`, `APE 174`.
const ENGINE = /(?:^|\s)([A-Z][A-Z0-9]*(?:_FREQ)?) (off|\d+%@\d+|\d+%|@\d+|\d+)(?=\s|$)/g;
const NOT_ENGINES = new Set(['RAM', 'SWAP', 'IRAM', 'CPU', 'EMC', 'EMC_FREQ', 'GR3D', 'GR3D_FREQ', 'MTS']);

function int(text: string | undefined): number | null {
  return text === undefined || text === '' ? null : Number.parseInt(text, 10);
}

function parseCpuEntry(entry: string, sharedFreq: number | null): TegraCpu | null {
  const text = entry.trim();
  if (text === 'off') return { loadPct: null, freqMHz: null, online: false };
  const m = /^(\d+)%(?:@(\d+))?$/.exec(text);
  if (!m) return null;
  return { loadPct: int(m[1]), freqMHz: int(m[2]) ?? sharedFreq, online: true };
}

function parseEngineValue(value: string): TegraEngine {
  if (value === 'off') return { online: false, loadPct: null, freqMHz: null };
  // A bare number (`APE 174`, `VIC_FREQ 729`, `NVDEC 716`) is the engine clock in MHz.
  const m = /^(?:(\d+)%)?@?(\d+)?$/.exec(value);
  return { online: true, loadPct: int(m?.[1]), freqMHz: int(m?.[2]) };
}

/**
 * Parse one tegrastats line. Returns null for a line that carries neither a RAM nor a CPU field
 * (blank lines, warnings such as "Warning: some information requires sudo").
 */
export function parseTegrastatsLine(line: string): TegrastatsSample | null {
  const text = line.replace(/\s+/g, ' ').trim();
  const ram = RAM.exec(text);
  const cpu = CPU.exec(text);
  if (!ram && !cpu) return null;

  const sample: TegrastatsSample = {
    timestamp: TIMESTAMP.exec(text)?.[1] ?? null,
    ramUsedMB: int(ram?.[1]),
    ramTotalMB: int(ram?.[2]),
    swapUsedMB: null,
    swapTotalMB: null,
    swapCachedMB: null,
    iramUsedKB: null,
    iramTotalKB: null,
    cpus: [],
    emcLoadPct: null,
    emcFreqMHz: null,
    gpuLoadPct: null,
    gpuFreqMHz: null,
    gpuGpcFreqMHz: null,
    engines: {},
    mts: null,
    temperatures: {},
    rails: {},
  };

  const swap = SWAP.exec(text);
  if (swap) {
    sample.swapUsedMB = int(swap[1]);
    sample.swapTotalMB = int(swap[2]);
    sample.swapCachedMB = int(swap[3]);
  }
  const iram = IRAM.exec(text);
  if (iram) {
    sample.iramUsedKB = int(iram[1]);
    sample.iramTotalKB = int(iram[2]);
  }
  if (cpu) {
    const shared = int(cpu[2]);
    for (const entry of cpu[1].split(',')) {
      const core = parseCpuEntry(entry, shared);
      if (core) sample.cpus.push(core);
    }
  }
  const emc = EMC.exec(text);
  if (emc) {
    sample.emcLoadPct = int(emc[1]);
    sample.emcFreqMHz = int(emc[2]);
  }
  const gr3d = GR3D.exec(text);
  if (gr3d) {
    sample.gpuLoadPct = int(gr3d[1]);
    if (gr3d[2] !== undefined) {
      const gpcs = gr3d[2].split(',').filter((s) => s !== '').map((s) => Number.parseInt(s, 10));
      sample.gpuGpcFreqMHz = gpcs;
      sample.gpuFreqMHz = gpcs.length > 0 ? Math.max(...gpcs) : null;
    } else {
      sample.gpuFreqMHz = int(gr3d[3]);
    }
  }
  const mts = MTS.exec(text);
  if (mts) sample.mts = { fgPct: Number(mts[1]), bgPct: Number(mts[2]) };

  for (const m of text.matchAll(TEMPERATURE)) sample.temperatures[m[1]] = Number(m[2]);
  for (const m of text.matchAll(RAIL)) {
    sample.rails[m[1]] = { currentMw: Number(m[2]), averageMw: Number(m[3]) };
  }
  for (const m of text.matchAll(ENGINE)) {
    if (NOT_ENGINES.has(m[1])) continue;
    sample.engines[m[1].replace(/_FREQ$/, '')] = parseEngineValue(m[2]);
  }
  return sample;
}

export interface TegrastatsStreamOptions {
  /** Path or name of the tegrastats binary; default `tegrastats` from PATH. */
  command?: string;
  /** Sampling interval handed to `tegrastats --interval` (milliseconds). */
  intervalMs?: number;
  /** Aborting ends the stream and stops the process. */
  signal?: AbortSignal;
}

/** Thrown by {@link tegrastatsSamples} when the binary cannot be started (e.g. ENOENT). */
export class TegrastatsUnavailableError extends EdgefitError<'E_TEGRASTATS_UNAVAILABLE'> {
  override name = 'TegrastatsUnavailableError';
  constructor(
    readonly command: string,
    /** The spawn error's errno code (ENOENT, EACCES), when it has one. */
    readonly errno: string | undefined,
    cause: unknown,
  ) {
    super('E_TEGRASTATS_UNAVAILABLE', { command, cause: errno ?? String(cause) }, { cause });
  }
}

const KILL_GRACE_MS = 2000;

/**
 * Run `tegrastats --interval N` and yield one sample per parsed line. Leaving the loop (break,
 * return, throw) or aborting the signal terminates the process and waits for it to exit.
 */
export async function* tegrastatsSamples(options: TegrastatsStreamOptions = {}): AsyncGenerator<TegrastatsSample> {
  const command = options.command ?? 'tegrastats';
  const intervalMs = options.intervalMs ?? 1000;
  if (!Number.isInteger(intervalMs) || intervalMs <= 0) {
    throw new RangeError(`tegrastats interval must be a positive integer of milliseconds, got ${intervalMs}`);
  }
  if (options.signal?.aborted) return;
  const child = spawn(command, ['--interval', String(intervalMs)], { stdio: ['ignore', 'pipe', 'ignore'] });
  let startError: NodeJS.ErrnoException | null = null;
  child.on('error', (err: NodeJS.ErrnoException) => {
    startError ??= err;
  });
  const exited = once(child, 'close').catch(() => undefined);
  const stop = (): void => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  };
  options.signal?.addEventListener('abort', stop, { once: true });
  const lines = createInterface({ input: child.stdout, crlfDelay: Infinity });
  try {
    for await (const line of lines) {
      const sample = parseTegrastatsLine(line);
      if (sample) yield sample;
    }
    await exited;
    if (startError !== null) {
      const err: NodeJS.ErrnoException = startError;
      throw new TegrastatsUnavailableError(command, err.code, err);
    }
  } finally {
    options.signal?.removeEventListener('abort', stop);
    lines.close();
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), KILL_GRACE_MS);
      await exited;
      clearTimeout(timer);
    }
  }
}
