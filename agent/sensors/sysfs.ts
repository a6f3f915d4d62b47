/**
 * Linux sysfs sensors: thermal zones and cpufreq, read under a configurable root so tests can
 * point at recorded trees. Units: thermal `temp` is millidegrees Celsius, cpufreq files are kHz.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseSysfsThrottled, type ThrottleFlags } from './vcgencmd.js';

/** Reads one sysfs file; injectable so the read-error and flaky-read paths can be exercised. */
export type SysfsReader = (file: string) => Promise<string>;

const readText: SysfsReader = (file) => readFile(file, 'utf8');

async function tryRead(read: SysfsReader, file: string): Promise<string | null> {
  try {
    return (await read(file)).trim();
  } catch {
    // ENOENT for absent nodes; EAGAIN / EINVAL for zones whose sensor is powered down or broken.
    return null;
  }
}

/**
 * Plausible die temperatures. The lower bound is the coldest rated operating point of the boards we
 * target (industrial Jetson modules, -40 °C); the upper bound is above every Jetson / Pi shutdown
 * trip. The Pi firmware bug (raspberrypi/firmware#133) returns values such as -650788984, far
 * outside this range.
 */
export const PLAUSIBLE_TEMP_C = { min: -40, max: 150 } as const;

/**
 * The same bug also returns exactly 85000 "when the real temp is much less". 85.000 °C is also a
 * real reading on sensors with 0.5 °C steps (Jetson), so the value is only suspect: it is
 * re-read, and kept when a second read confirms it.
 */
export const SENTINEL_MILLIDEGREES = 85000;

export type ZoneReading =
  | { kind: 'ok'; tempC: number }
  | { kind: 'sentinel'; tempC: number }
  | { kind: 'out-of-range'; millidegrees: number }
  | { kind: 'unparseable' };

/** Classify the text of one thermal zone `temp` file. */
export function classifyMillidegrees(text: string): ZoneReading {
  const trimmed = text.trim();
  if (!/^-?\d+$/.test(trimmed)) return { kind: 'unparseable' };
  const milli = Number.parseInt(trimmed, 10);
  const tempC = milli / 1000;
  if (tempC < PLAUSIBLE_TEMP_C.min || tempC > PLAUSIBLE_TEMP_C.max) return { kind: 'out-of-range', millidegrees: milli };
  if (milli === SENTINEL_MILLIDEGREES) return { kind: 'sentinel', tempC };
  return { kind: 'ok', tempC };
}

export type ZoneStatus = 'ok' | 'unreadable' | 'out-of-range' | 'unparseable';

export interface ThermalZone {
  /** The N of `thermal_zoneN`. */
  index: number;
  /** Content of the zone's `type` file (`cpu-thermal`, `CPU-therm`, `x86_pkg_temp`...), or null. */
  type: string | null;
  tempC: number | null;
  /** Why tempC is null; `ok` when it is not. */
  status: ZoneStatus;
}

/**
 * Read one zone's temperature. A suspect first read (sentinel, out of range, unparseable) is read
 * again: the firmware bug is occasional, so a second read tells a glitch from a real value.
 */
async function readZoneTemp(read: SysfsReader, file: string): Promise<Pick<ThermalZone, 'tempC' | 'status'>> {
  const first = await tryRead(read, file);
  if (first === null) return { tempC: null, status: 'unreadable' };
  const a = classifyMillidegrees(first);
  if (a.kind === 'ok') return { tempC: a.tempC, status: 'ok' };
  const second = await tryRead(read, file);
  const b = second === null ? null : classifyMillidegrees(second);
  if (b?.kind === 'ok') return { tempC: b.tempC, status: 'ok' };
  if (a.kind === 'sentinel' && b?.kind === 'sentinel') return { tempC: a.tempC, status: 'ok' };
  if (b === null) return { tempC: null, status: 'unreadable' };
  if (b.kind === 'sentinel') return { tempC: null, status: a.kind === 'out-of-range' ? 'out-of-range' : 'unparseable' };
  return { tempC: null, status: b.kind };
}

async function listIndexed(dir: string, pattern: RegExp): Promise<{ name: string; index: number }[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  return names
    .map((name) => ({ name, m: pattern.exec(name) }))
    .filter((e): e is { name: string; m: RegExpExecArray } => e.m !== null)
    .map((e) => ({ name: e.name, index: Number(e.m[1]) }))
    .sort((x, y) => x.index - y.index);
}

/** All `sys/class/thermal/thermal_zone*` under `sysfsRoot`, by index; [] when there are none. */
export async function readThermalZones(sysfsRoot = '/', read: SysfsReader = readText): Promise<ThermalZone[]> {
  const dir = path.join(sysfsRoot, 'sys', 'class', 'thermal');
  const entries = await listIndexed(dir, /^thermal_zone(\d+)$/);
  return Promise.all(
    entries.map(async ({ name, index }) => {
      const type = await tryRead(read, path.join(dir, name, 'type'));
      const temp = await readZoneTemp(read, path.join(dir, name, 'temp'));
      return { index, type, ...temp };
    }),
  );
}

export interface CpuFrequency {
  /** The N of `cpuN`. */
  cpu: number;
  /** `cpuinfo_cur_freq` (hardware) when readable, else `scaling_cur_freq`. */
  curMHz: number | null;
  /** `cpuinfo_max_freq`: what the hardware can do. */
  maxMHz: number | null;
  minMHz: number | null;
  /** `scaling_max_freq`: the current policy cap (lowered by power modes, cooling devices, users). */
  scalingMaxMHz: number | null;
  governor: string | null;
}

function khzToMhz(text: string | null): number | null {
  if (text === null || !/^\d+$/.test(text)) return null;
  return Number.parseInt(text, 10) / 1000;
}

/** cpufreq of every `sys/devices/system/cpu/cpuN` that has a cpufreq directory. */
export async function readCpuFrequencies(sysfsRoot = '/', read: SysfsReader = readText): Promise<CpuFrequency[]> {
  const dir = path.join(sysfsRoot, 'sys', 'devices', 'system', 'cpu');
  const entries = await listIndexed(dir, /^cpu(\d+)$/);
  const cpus = await Promise.all(
    entries.map(async ({ name, index }) => {
      const f = (file: string): Promise<string | null> => tryRead(read, path.join(dir, name, 'cpufreq', file));
      const [cpuinfoCur, scalingCur, max, cpuinfoMin, scalingMin, scalingMax, governor] = await Promise.all([
        f('cpuinfo_cur_freq'),
        f('scaling_cur_freq'),
        f('cpuinfo_max_freq'),
        f('cpuinfo_min_freq'),
        f('scaling_min_freq'),
        f('scaling_max_freq'),
        f('scaling_governor'),
      ]);
      const reading: CpuFrequency = {
        cpu: index,
        curMHz: khzToMhz(cpuinfoCur) ?? khzToMhz(scalingCur),
        maxMHz: khzToMhz(max),
        minMHz: khzToMhz(cpuinfoMin) ?? khzToMhz(scalingMin),
        scalingMaxMHz: khzToMhz(scalingMax),
        governor: governor === '' ? null : governor,
      };
      return reading;
    }),
  );
  return cpus.filter((c) => c.curMHz !== null || c.maxMHz !== null || c.scalingMaxMHz !== null || c.minMHz !== null);
}

export interface ClockState {
  /** Mean current frequency over cores that report one. */
  curMHz: number | null;
  /** Mean ceiling (`cpuinfo_max_freq`, else `scaling_max_freq`) over cores that report one. */
  maxMHz: number | null;
  /**
   * How far below their ceiling the cores run, over cores reporting both: 100 * (1 - Σcur/Σmax),
   * never negative. Under load, a drop means throttling; at idle it is just the governor.
   */
  dropPct: number | null;
  /**
   * true when some core's policy cap is below its hardware maximum (thermal cooling device,
   * power mode or a user setting); null when no core reports both.
   */
  policyCapped: boolean | null;
}

const mean = (xs: number[]): number | null => (xs.length === 0 ? null : xs.reduce((a, b) => a + b, 0) / xs.length);
const round2 = (x: number): number => Math.round(x * 100) / 100;

/** Throttle evidence from clocks: current vs maximum frequency. */
export function clockState(cpus: CpuFrequency[]): ClockState {
  const ceiling = (c: CpuFrequency): number | null => c.maxMHz ?? c.scalingMaxMHz;
  const both = cpus.filter((c) => c.curMHz !== null && ceiling(c) !== null);
  const sumCur = both.reduce((a, c) => a + (c.curMHz ?? 0), 0);
  const sumMax = both.reduce((a, c) => a + (ceiling(c) ?? 0), 0);
  const capped = cpus.filter((c) => c.maxMHz !== null && c.scalingMaxMHz !== null);
  const cur = mean(cpus.flatMap((c) => (c.curMHz === null ? [] : [c.curMHz])));
  const max = mean(cpus.flatMap((c) => (ceiling(c) === null ? [] : [ceiling(c) as number])));
  return {
    curMHz: cur === null ? null : round2(cur),
    maxMHz: max === null ? null : round2(max),
    dropPct: sumMax > 0 ? round2(Math.max(0, 100 * (1 - sumCur / sumMax))) : null,
    policyCapped: capped.length === 0 ? null : capped.some((c) => (c.scalingMaxMHz as number) < (c.maxMHz as number)),
  };
}

/** Raspberry Pi firmware throttle node; null when absent (any non-Pi host). */
export async function readFirmwareThrottled(sysfsRoot = '/', read: SysfsReader = readText): Promise<ThrottleFlags | null> {
  const text = await tryRead(read, path.join(sysfsRoot, 'sys', 'devices', 'platform', 'soc', 'soc:firmware', 'get_throttled'));
  return text === null ? null : parseSysfsThrottled(text);
}
