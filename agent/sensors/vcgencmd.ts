/**
 * Raspberry Pi `vcgencmd`: parse `measure_temp`, `get_throttled`, `measure_clock`, `measure_volts`,
 * and run the tool. A missing binary (any non-Pi host) yields null, never a guess.
 */
import { execFile } from 'node:child_process';

/**
 * `get_throttled` bit pattern, bit numbers from the official table
 * (https://www.raspberrypi.com/documentation/computers/os.html#get_throttled):
 * bits 0-3 are the current state, bits 16-19 the same conditions latched since boot.
 */
export const THROTTLE_BITS = {
  underVoltageNow: 0,
  armFreqCappedNow: 1,
  throttledNow: 2,
  softTempLimitNow: 3,
  underVoltageOccurred: 16,
  armFreqCappedOccurred: 17,
  throttledOccurred: 18,
  softTempLimitOccurred: 19,
} as const;

export type ThrottleFlagName = keyof typeof THROTTLE_BITS;

export type ThrottleFlags = { raw: number } & Record<ThrottleFlagName, boolean>;

export function decodeThrottled(raw: number): ThrottleFlags {
  const flags = { raw } as ThrottleFlags;
  for (const [name, bit] of Object.entries(THROTTLE_BITS) as [ThrottleFlagName, number][]) {
    flags[name] = Math.floor(raw / 2 ** bit) % 2 === 1;
  }
  return flags;
}

/** Any of bits 0-3 set: the Pi is limited right now. */
export function throttledNow(flags: ThrottleFlags): boolean {
  return flags.underVoltageNow || flags.armFreqCappedNow || flags.throttledNow || flags.softTempLimitNow;
}

/** Any of bits 16-19 set: a limit was hit at some point since boot. */
export function throttledSinceBoot(flags: ThrottleFlags): boolean {
  return (
    flags.underVoltageOccurred || flags.armFreqCappedOccurred || flags.throttledOccurred || flags.softTempLimitOccurred
  );
}

const TEMP = /^temp=(-?\d+(?:\.\d+)?)'C$/m;
const THROTTLED = /^throttled=0x([0-9a-fA-F]+)$/m;
/** `/sys/devices/platform/soc/soc:firmware/get_throttled` prints bare hex digits (`80008`). */
const SYSFS_THROTTLED = /^\s*([0-9a-fA-F]+)\s*$/;
const CLOCK = /^(?:([A-Za-z0-9_]+):\s*)?frequency\((\d+)\)=(\d+)$/gm;
const VOLTS = /^volt=(\d+(?:\.\d+)?)V$/m;

/** `temp=48.3'C` → 48.3; null when the text has no temperature line. */
export function parseMeasureTemp(text: string): number | null {
  const m = TEMP.exec(text);
  return m ? Number(m[1]) : null;
}

/** `throttled=0x50005` → decoded flags; null when the text has no throttled line. */
export function parseThrottled(text: string): ThrottleFlags | null {
  const m = THROTTLED.exec(text);
  return m ? decodeThrottled(Number.parseInt(m[1], 16)) : null;
}

/**
 * The firmware's sysfs node prints the same bits as bare hex (`80008`). It has been seen reading
 * `0` while vcgencmd reported `0x80008` (raspberrypi/linux#2367), so vcgencmd is preferred.
 */
export function parseSysfsThrottled(text: string): ThrottleFlags | null {
  const m = SYSFS_THROTTLED.exec(text);
  return m ? decodeThrottled(Number.parseInt(m[1], 16)) : null;
}

export interface ClockReading {
  /** Label before the value when a script prints `arm:\tfrequency(45)=...`; otherwise null. */
  label: string | null;
  /** Firmware clock id; it differs between firmware versions (45 vs 48 for arm), so never rely on it. */
  clockId: number;
  hz: number;
}

/** Every `frequency(N)=HZ` line, in order. */
export function parseMeasureClocks(text: string): ClockReading[] {
  return [...text.matchAll(CLOCK)].map((m) => ({ label: m[1] ?? null, clockId: Number(m[2]), hz: Number(m[3]) }));
}

/** `frequency(48)=1500345728` → 1500345728 Hz (first clock line); null when absent. */
export function parseMeasureClock(text: string): number | null {
  return parseMeasureClocks(text)[0]?.hz ?? null;
}

/** `volt=1.2000V` → 1.2; null when absent. */
export function parseMeasureVolts(text: string): number | null {
  const m = VOLTS.exec(text);
  return m ? Number(m[1]) : null;
}

export interface VcgencmdOptions {
  /** Path or name of the binary; default `vcgencmd` from PATH. */
  command?: string;
  timeoutMs?: number;
}

/**
 * Run `vcgencmd ARGS...` and return its stdout, or null when the binary is missing, fails
 * (e.g. no access to /dev/vchiq), or times out.
 */
export function runVcgencmd(args: string[], options: VcgencmdOptions = {}): Promise<string | null> {
  const command = options.command ?? 'vcgencmd';
  return new Promise((resolve) => {
    execFile(command, args, { timeout: options.timeoutMs ?? 3000, encoding: 'utf8' }, (err, stdout) => {
      resolve(err ? null : stdout);
    });
  });
}

export interface VcgencmdReading {
  tempC: number | null;
  throttled: ThrottleFlags | null;
  armHz: number | null;
}

/**
 * One reading of temperature, throttle state and ARM clock; null when vcgencmd answered none of
 * them (binary absent or unusable).
 */
export async function readVcgencmd(options: VcgencmdOptions = {}): Promise<VcgencmdReading | null> {
  const [temp, throttled, clock] = await Promise.all([
    runVcgencmd(['measure_temp'], options),
    runVcgencmd(['get_throttled'], options),
    runVcgencmd(['measure_clock', 'arm'], options),
  ]);
  if (temp === null && throttled === null && clock === null) return null;
  return {
    tempC: temp === null ? null : parseMeasureTemp(temp),
    throttled: throttled === null ? null : parseThrottled(throttled),
    armHz: clock === null ? null : parseMeasureClock(clock),
  };
}
