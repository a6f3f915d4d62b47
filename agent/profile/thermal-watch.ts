import { clockState, pickTemperature, readCpuFrequencies, readThermalZones } from '../sensors/index.js';

export interface ThermalSample {
  temperatureC: number | null;
  clockDropPct: number | null;
  cpuMaxFreqMHz: number | null;
}

/**
 * Cheap sysfs-only reading (thermal zones and cpufreq), cheap enough to take
 * every second while a model is being measured. The full sensor snapshot
 * (vcgencmd, tegrastats, systeminformation) is kept for before and after.
 */
export async function sampleThermal(): Promise<ThermalSample> {
  const [zones, cpus] = await Promise.all([readThermalZones(), readCpuFrequencies()]);
  const clocks = clockState(cpus);
  return { temperatureC: pickTemperature(zones, null, null, null)?.tempC ?? null, clockDropPct: clocks.dropPct, cpuMaxFreqMHz: clocks.maxMHz };
}

const maxOf = (a: number | null, b: number | null): number | null => (a === null ? b : b === null ? a : Math.max(a, b));

/** Samples temperature and clocks every interval; remembers the peaks and whether a limit was crossed. */
export class ThermalWatch {
  peakTempC: number | null = null;
  maxClockDropPct: number | null = null;
  cpuMaxFreqMHz: number | null = null;
  latest: ThermalSample | null = null;
  /** Set once the temperature passes the limit; measurement loops check it and stop. */
  overLimit: string | null = null;
  private timer?: NodeJS.Timeout;
  private inFlight = false;

  constructor(private readonly maxTempC?: number) {}

  async sample(): Promise<ThermalSample> {
    const s = await sampleThermal();
    this.latest = s;
    this.peakTempC = maxOf(this.peakTempC, s.temperatureC);
    this.maxClockDropPct = maxOf(this.maxClockDropPct, s.clockDropPct);
    this.cpuMaxFreqMHz ??= s.cpuMaxFreqMHz;
    if (this.maxTempC !== undefined && s.temperatureC !== null && s.temperatureC > this.maxTempC && !this.overLimit) {
      this.overLimit = `temperature ${s.temperatureC} °C passed the limit of ${this.maxTempC} °C`;
    }
    return s;
  }

  start(intervalMs = 1000): void {
    this.timer = setInterval(() => {
      if (this.inFlight) return;
      this.inFlight = true;
      this.sample().catch(() => undefined).finally(() => (this.inFlight = false));
    }, intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
