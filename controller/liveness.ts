// When a device counts as gone though no last will said so: a broker that
// crashed sends none. Silence is judged against the device's own heartbeat
// period (a minute, an agent's longest, when it never said), never under 15 s.
import type { Device } from './registry.js';

const SILENT_PERIODS = 3;
const UNKNOWN_PERIOD_S = 60;
const MIN_SILENCE_MS = 15_000;

/** How long a device may stay silent before it is taken as gone. */
export function silenceLimitMs(intervalS: number | undefined): number {
  return Math.max(MIN_SILENCE_MS, SILENT_PERIODS * (intervalS ?? UNKNOWN_PERIOD_S) * 1000);
}

export function isSilent(device: Pick<Device, 'lastSeen'> & { heartbeat: { intervalS?: number } | null }, now: number): boolean {
  return now - (device.lastSeen ?? 0) > silenceLimitMs(device.heartbeat?.intervalS);
}
