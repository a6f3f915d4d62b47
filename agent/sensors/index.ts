/**
 * The agent's sensors behind one interface. Each backend (systeminformation, sysfs, vcgencmd,
 * tegrastats, device tree) answers what it can on the current host; anything no backend answers is
 * null, never a guess.
 */
import si from 'systeminformation';
import { readBoardIdentity, type BoardIdentity } from './device-tree.js';
import {
  clockState,
  PLAUSIBLE_TEMP_C,
  readCpuFrequencies,
  readFirmwareThrottled,
  readThermalZones,
  type ThermalZone,
} from './sysfs.js';
import { tegrastatsSamples, TegrastatsUnavailableError, type PowerRail, type TegrastatsSample } from './tegrastats.js';
import { readVcgencmd, throttledNow, throttledSinceBoot, type ThrottleFlags, type VcgencmdReading } from './vcgencmd.js';

export * from './device-tree.js';
export * from './sysfs.js';
export * from './tegrastats.js';
export * from './vcgencmd.js';

export interface SensorsConfig {
  /** Root that holds `sys/` (default `/`); tests point it at a recorded tree. */
  sysfsRoot?: string;
  /** Root that holds `proc/` (default `/`). */
  procRoot?: string;
  vcgencmdPath?: string;
  tegrastatsPath?: string;
  /** `tegrastats --interval` in milliseconds (default 1000). */
  tegrastatsIntervalMs?: number;
  /** How long a snapshot waits for tegrastats' first line (default interval + 1500 ms). */
  tegrastatsWaitMs?: number;
  /** Timeout for each vcgencmd call (default 3000 ms). */
  commandTimeoutMs?: number;
  /**
   * Ask systeminformation (memory, CPU load, CPU temperature). It always reads the live host, so it
   * defaults to on only when both roots are `/`: mixing a recorded tree with this machine's
   * readings would describe a device that does not exist.
   */
  useSystemInformation?: boolean;
}

export type TemperatureSource = 'sysfs' | 'tegrastats' | 'vcgencmd' | 'systeminformation';

export interface ThrottleState {
  /** A limit is active right now (bits 0-3). */
  now: boolean | null;
  /** A limit was hit since boot (bits 16-19). */
  occurred: boolean | null;
  flags: ThrottleFlags;
  source: 'vcgencmd' | 'sysfs-firmware';
}

export interface MemoryState {
  totalMB: number;
  /** In use by processes: total minus available (page cache not counted). */
  usedMB: number;
  swapTotalMB: number | null;
  swapUsedMB: number | null;
  source: 'systeminformation' | 'tegrastats';
}

export interface SensorSnapshot {
  takenAt: string;
  board: BoardIdentity | null;
  /** Hottest CPU/SoC sensor (°C), see {@link pickTemperature}. */
  temperatureC: number | null;
  temperatureSource: TemperatureSource | null;
  zones: ThermalZone[];
  cpuFreqMHz: number | null;
  cpuMaxFreqMHz: number | null;
  /** How far below the maximum the CPU clocks run (%); under load this is throttling. */
  clockDropPct: number | null;
  /** Some core's policy cap is below its hardware maximum (power mode, cooling device or user). */
  clockPolicyCapped: boolean | null;
  /** Firmware throttle flags (Raspberry Pi); null on hosts that do not report them. */
  throttled: ThrottleState | null;
  /** CPU load (%) since the previous snapshot (systeminformation), else the mean of tegrastats' online cores. */
  cpuLoadPct: number | null;
  gpuLoadPct: number | null;
  gpuFreqMHz: number | null;
  memory: MemoryState | null;
  /** Power rails from tegrastats (mW); null without tegrastats. */
  powerRails: Record<string, PowerRail> | null;
  /** Which backends answered this snapshot. */
  source: { systeminformation: boolean; sysfs: boolean; vcgencmd: boolean; tegrastats: boolean; deviceTree: boolean };
}

export interface Sensors {
  snapshot(): Promise<SensorSnapshot>;
  /** Stops background readers (tegrastats). Safe to call more than once. */
  close(): Promise<void>;
}

/** Sensor names that measure the CPU or the SoC die (`cpu-thermal`, `CPU-therm`, `soc0`, `tj`, `x86_pkg_temp`). */
const CPU_OR_SOC = /cpu|soc|^tj|x86_pkg|package/i;

const plausible = (t: number | null | undefined): t is number =>
  typeof t === 'number' && Number.isFinite(t) && t >= PLAUSIBLE_TEMP_C.min && t <= PLAUSIBLE_TEMP_C.max;

/**
 * Hottest CPU/SoC reading, from the first backend that has one: sysfs zones, tegrastats sensors,
 * vcgencmd, systeminformation. Board, fan-estimate, PMIC and accelerator sensors are not the chip
 * the model runs on, so they never stand in for it (they stay visible in `zones`).
 */
export function pickTemperature(
  zones: ThermalZone[],
  tegra: TegrastatsSample | null,
  vcgencmdTempC: number | null,
  siTempC: number | null,
): { tempC: number; source: TemperatureSource } | null {
  const fromZones = zones.filter((z) => z.type !== null && CPU_OR_SOC.test(z.type)).map((z) => z.tempC);
  const candidates: [TemperatureSource, (number | null)[]][] = [
    ['sysfs', fromZones],
    ['tegrastats', Object.entries(tegra?.temperatures ?? {}).filter(([n]) => CPU_OR_SOC.test(n)).map(([, t]) => t)],
    ['vcgencmd', [vcgencmdTempC]],
    ['systeminformation', [siTempC]],
  ];
  for (const [source, temps] of candidates) {
    const valid = temps.filter(plausible);
    if (valid.length > 0) return { tempC: Math.max(...valid), source };
  }
  return null;
}

/** Keeps one `tegrastats` process running and remembers its latest sample. */
class TegrastatsMonitor {
  private latest: TegrastatsSample | null = null;
  private absent = false;
  private controller: AbortController | null = null;
  private loop: Promise<void> | null = null;
  private readonly waiters = new Set<() => void>();

  constructor(
    private readonly command: string,
    private readonly intervalMs: number,
  ) {}

  async sample(waitMs: number): Promise<TegrastatsSample | null> {
    if (this.absent) return null;
    if (this.loop === null) this.start();
    if (this.latest === null) await this.nextEvent(waitMs);
    return this.latest;
  }

  async stop(): Promise<void> {
    this.controller?.abort();
    await this.loop;
  }

  private start(): void {
    const controller = new AbortController();
    this.controller = controller;
    this.latest = null;
    this.loop = (async () => {
      try {
        for await (const s of tegrastatsSamples({ command: this.command, intervalMs: this.intervalMs, signal: controller.signal })) {
          this.latest = s;
          this.notify();
        }
      } catch (err) {
        // A binary that cannot be started will not appear later in this process' life.
        if (err instanceof TegrastatsUnavailableError) this.absent = true;
      } finally {
        // Drop the sample of a dead process so the next snapshot restarts rather than reuse it.
        this.loop = null;
        this.latest = null;
        this.notify();
      }
    })();
  }

  private notify(): void {
    for (const wake of this.waiters) wake();
    this.waiters.clear();
  }

  private nextEvent(waitMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, waitMs);
      const waiters = this.waiters;
      function done(): void {
        clearTimeout(timer);
        waiters.delete(done);
        resolve();
      }
      waiters.add(done);
    });
  }
}

interface SiReading {
  tempC: number | null;
  memory: MemoryState | null;
  cpuLoadPct: number | null;
}

const MB = 1024 * 1024;

/**
 * si.currentLoad() reports the load since its previous call, and repeats its last answer for calls
 * under 200 ms apart; its very first call covers an unknown window. So the sensors prime it when
 * created and the first snapshot waits until a fresh window of at least this long has passed.
 */
const LOAD_WINDOW_MS = 250;

async function readSystemInformation(): Promise<SiReading | null> {
  const [temp, mem, load] = await Promise.allSettled([si.cpuTemperature(), si.mem(), si.currentLoad()]);
  const reading: SiReading = {
    tempC: temp.status === 'fulfilled' && plausible(temp.value.main) ? temp.value.main : null,
    memory:
      mem.status === 'fulfilled' && mem.value.total > 0
        ? {
            totalMB: Math.round(mem.value.total / MB),
            usedMB: Math.round((mem.value.total - mem.value.available) / MB),
            swapTotalMB: Math.round(mem.value.swaptotal / MB),
            swapUsedMB: Math.round(mem.value.swapused / MB),
            source: 'systeminformation',
          }
        : null,
    cpuLoadPct:
      load.status === 'fulfilled' && Number.isFinite(load.value.currentLoad)
        ? Math.round(load.value.currentLoad * 100) / 100
        : null,
  };
  return reading.tempC === null && reading.memory === null && reading.cpuLoadPct === null ? null : reading;
}

function tegraMemory(t: TegrastatsSample | null): MemoryState | null {
  if (t === null || t.ramTotalMB === null || t.ramUsedMB === null) return null;
  return { totalMB: t.ramTotalMB, usedMB: t.ramUsedMB, swapTotalMB: t.swapTotalMB, swapUsedMB: t.swapUsedMB, source: 'tegrastats' };
}

function meanOf(values: (number | null)[]): number | null {
  const xs = values.filter((v): v is number => v !== null);
  return xs.length === 0 ? null : Math.round((xs.reduce((a, b) => a + b, 0) / xs.length) * 100) / 100;
}

function throttleFrom(vc: VcgencmdReading | null, firmware: ThrottleFlags | null): ThrottleState | null {
  const flags = vc?.throttled ?? firmware;
  if (!flags) return null;
  return {
    now: throttledNow(flags),
    occurred: throttledSinceBoot(flags),
    flags,
    source: vc?.throttled ? 'vcgencmd' : 'sysfs-firmware',
  };
}

export function createSensors(config: SensorsConfig = {}): Sensors {
  const sysfsRoot = config.sysfsRoot ?? '/';
  const procRoot = config.procRoot ?? '/';
  const useSi = config.useSystemInformation ?? (sysfsRoot === '/' && procRoot === '/');
  const intervalMs = config.tegrastatsIntervalMs ?? 1000;
  const waitMs = config.tegrastatsWaitMs ?? intervalMs + 1500;
  const vcOptions = { command: config.vcgencmdPath ?? 'vcgencmd', timeoutMs: config.commandTimeoutMs ?? 3000 };
  const tegrastats = new TegrastatsMonitor(config.tegrastatsPath ?? 'tegrastats', intervalMs);
  let loadPrimedAt: number | null = null;
  if (useSi) {
    loadPrimedAt = Date.now();
    si.currentLoad().catch(() => undefined);
  }

  async function systemInformation(): Promise<SiReading | null> {
    if (loadPrimedAt !== null) {
      const wait = LOAD_WINDOW_MS - (Date.now() - loadPrimedAt);
      loadPrimedAt = null;
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    }
    return readSystemInformation();
  }

  async function snapshot(): Promise<SensorSnapshot> {
    const [board, zones, cpus, firmware, vc, tegra, sys] = await Promise.all([
      readBoardIdentity({ procRoot, sysfsRoot }),
      readThermalZones(sysfsRoot),
      readCpuFrequencies(sysfsRoot),
      readFirmwareThrottled(sysfsRoot),
      readVcgencmd(vcOptions),
      tegrastats.sample(waitMs),
      useSi ? systemInformation() : Promise.resolve(null),
    ]);
    const clocks = clockState(cpus);
    const temperature = pickTemperature(zones, tegra, vc?.tempC ?? null, sys?.tempC ?? null);
    const onlineCores = tegra?.cpus.filter((c) => c.online) ?? [];
    const cpuFreqMHz =
      clocks.curMHz ?? (vc?.armHz != null ? Math.round(vc.armHz / 1e4) / 100 : null) ?? meanOf(onlineCores.map((c) => c.freqMHz));
    const cpuMaxFreqMHz = clocks.maxMHz;
    const clockDropPct =
      clocks.dropPct ??
      (cpuFreqMHz !== null && cpuMaxFreqMHz !== null && cpuMaxFreqMHz > 0
        ? Math.round(Math.max(0, 100 * (1 - cpuFreqMHz / cpuMaxFreqMHz)) * 100) / 100
        : null);
    return {
      takenAt: new Date().toISOString(),
      board,
      temperatureC: temperature?.tempC ?? null,
      temperatureSource: temperature?.source ?? null,
      zones,
      cpuFreqMHz,
      cpuMaxFreqMHz,
      clockDropPct,
      clockPolicyCapped: clocks.policyCapped,
      throttled: throttleFrom(vc, firmware),
      cpuLoadPct: sys?.cpuLoadPct ?? meanOf(onlineCores.map((c) => c.loadPct)),
      gpuLoadPct: tegra?.gpuLoadPct ?? null,
      gpuFreqMHz: tegra?.gpuFreqMHz ?? null,
      memory: sys?.memory ?? tegraMemory(tegra),
      powerRails: tegra && Object.keys(tegra.rails).length > 0 ? tegra.rails : null,
      source: {
        systeminformation: sys !== null,
        sysfs: zones.length > 0 || cpus.length > 0 || firmware !== null,
        vcgencmd: vc !== null,
        tegrastats: tegra !== null,
        deviceTree: board !== null,
      },
    };
  }

  return { snapshot, close: () => tegrastats.stop() };
}
