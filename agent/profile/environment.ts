import os from 'node:os';
import si from 'systeminformation';
import type { ProfileReport } from '../../protocol/messages.js';

export type ProfileEnvironment = ProfileReport['environment'];

const TOP = 5;

/**
 * What else is running when a measurement starts: load average and the
 * busiest processes, so a slow number can be told from a busy device.
 */
export async function readEnvironment(servingPaused: boolean): Promise<ProfileEnvironment> {
  const hasLoad = os.platform() !== 'win32';
  const [load1, load5] = os.loadavg();
  let topProcesses: ProfileEnvironment['topProcesses'] = [];
  try {
    const { list } = await si.processes();
    topProcesses = list
      .filter((p) => Number.isFinite(p.cpu) && p.pid !== process.pid)
      .sort((a, b) => b.cpu - a.cpu)
      .slice(0, TOP)
      .map((p) => ({ name: p.name.slice(0, 64), pid: p.pid, cpuPct: Math.round(p.cpu * 10) / 10 }));
  } catch {
    // No process table (restricted container): the load average still says how busy the device is.
  }
  return { load1: hasLoad ? load1 : null, load5: hasLoad ? load5 : null, servingPaused, topProcesses };
}
