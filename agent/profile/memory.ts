// Resident memory of the profiling process, from a source that measures it.
// Under qemu user emulation (an arm64 agent on an x86 box) the runtime's RSS
// reads 0: libuv takes it from /proc/self/stat, which qemu rewrites with most
// fields zero. /proc/self/status is left alone and its VmRSS / VmHWM are the
// host process's, i.e. the emulated program plus qemu's own translation
// buffers (measured: VmRSS 90 MB for an idle arm64 node 20 under qemu, RSS 39 MB for x64 node 20 natively).
import { readFileSync } from 'node:fs';

export type MemorySource = 'runtime' | 'proc-status';

export interface ProcStatusMemory {
  /** Resident set now, bytes; null when the line is missing or unreadable. */
  vmRssBytes: number | null;
  /** Resident high-water mark, bytes; null when missing. */
  vmHwmBytes: number | null;
}

const KB = 1024;

function field(text: string, name: string): number | null {
  // "VmRSS:\t   90120 kB": the kernel always writes kB.
  const m = new RegExp(`^${name}:\\s*(\\d+)\\s*kB\\s*$`, 'm').exec(text);
  return m ? Number(m[1]) * KB : null;
}

/** VmRSS and VmHWM of a /proc/<pid>/status text, in bytes. */
export function parseProcStatus(text: string): ProcStatusMemory {
  return { vmRssBytes: field(text, 'VmRSS'), vmHwmBytes: field(text, 'VmHWM') };
}

/**
 * The runtime's counters while they read something; /proc/self/status when
 * the runtime reads 0 and the status file has a figure. With neither, the
 * runtime's (zero) figures stay labelled 'runtime', never passed off as read
 * from the status file.
 */
export function chooseMemorySource(runtimeRssBytes: number, status: ProcStatusMemory | null): MemorySource {
  if (runtimeRssBytes > 0) return 'runtime';
  return status?.vmRssBytes ? 'proc-status' : 'runtime';
}

export interface MemoryGauge {
  readonly source: MemorySource;
  /** Resident set now, bytes. */
  rssBytes(): number;
  /** The process's resident high-water mark so far, bytes. */
  peakBytes(): number;
}

function readProcStatus(): ProcStatusMemory | null {
  try {
    return parseProcStatus(readFileSync('/proc/self/status', 'utf8'));
  } catch {
    return null; // not Linux
  }
}

/** Decides the source once, from a first reading of both; the readers are for tests. */
export function memoryGauge(readStatus: () => ProcStatusMemory | null = readProcStatus, runtimeRss: () => number = () => process.memoryUsage.rss()): MemoryGauge {
  const source = chooseMemorySource(runtimeRss(), readStatus());
  if (source === 'runtime') {
    // maxRSS is the process' high-water mark in KiB: it sees spikes that sampling misses.
    return { source, rssBytes: runtimeRss, peakBytes: () => process.resourceUsage().maxRSS * KB };
  }
  return {
    source,
    rssBytes: () => readStatus()?.vmRssBytes ?? 0,
    peakBytes: () => readStatus()?.vmHwmBytes ?? 0,
  };
}

let processGauge: MemoryGauge | undefined;

/** This process's gauge, decided at its first use (the profiling child measures one model and exits). */
export function processMemory(): MemoryGauge {
  return (processGauge ??= memoryGauge());
}
