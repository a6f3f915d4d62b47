import os from 'node:os';
import si from 'systeminformation';
import { PROTOCOL_VERSION } from '../protocol/topics.js';
import type { Heartbeat } from '../protocol/messages.js';

/** Reads temperature in °C, or null where the platform has no sensor. */
export type TemperatureSource = () => Promise<number | null>;

export async function readHeartbeat(temperature: TemperatureSource, startedAt: number, intervalS: number, now = Date.now()): Promise<Heartbeat> {
  const [mem, temperatureC] = await Promise.all([si.mem(), temperature().catch(() => null)]);
  // loadavg is all zeros where the OS does not keep one (Windows): report null, not 0.
  const load = os.loadavg();
  const hasLoad = os.platform() !== 'win32';
  return {
    v: PROTOCOL_VERSION,
    ts: now,
    uptimeS: os.uptime(),
    agentUptimeS: (now - startedAt) / 1000,
    load1: hasLoad ? load[0] : null,
    // available past total (a container's cgroup view) would read as negative use: the protocol refuses that, so clamp at the source
    memUsedBytes: Math.min(mem.total, Math.max(0, mem.total - mem.available)),
    memTotalBytes: mem.total,
    temperatureC,
    intervalS,
  };
}
