// What the benchmark reads from outside the controller: its CPU time and RSS
// from /proc/<pid>, request latencies, and percentiles.
import { readFileSync } from 'node:fs';

/** Linux's USER_HZ: /proc/<pid>/stat counts CPU time in these ticks. */
const TICKS_PER_S = 100;

/** User + system CPU seconds the process has used so far. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // fields after the command name (which may hold spaces) in parentheses; utime and stime are fields 14 and 15
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_S;
}

/** Resident set size in MiB (VmRSS). */
export function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
}

/** A process's CPU (in cores) and peak RSS over a window, sampled each second. */
export class ProcWindow {
  private readonly cpu0: number;
  private readonly t0 = performance.now();
  private peakRss = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly pid: number) {
    this.cpu0 = cpuSeconds(pid);
    this.sample();
    this.timer = setInterval(() => this.sample(), 1000);
  }

  private sample(): void {
    try {
      this.peakRss = Math.max(this.peakRss, rssMb(this.pid));
    } catch {
      // the process ended
    }
  }

  end(): { cores: number; peakRssMb: number; seconds: number } {
    clearInterval(this.timer);
    this.sample();
    const seconds = (performance.now() - this.t0) / 1000;
    return { cores: (cpuSeconds(this.pid) - this.cpu0) / seconds, peakRssMb: this.peakRss, seconds };
  }
}

export async function timedFetch(url: string, token: string): Promise<{ ms: number; bytes: number; body: unknown; status: number }> {
  const t0 = performance.now();
  const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  const text = await res.text();
  return { ms: performance.now() - t0, bytes: Buffer.byteLength(text), body: JSON.parse(text) as unknown, status: res.status };
}

/** Groups receipt times into bursts (a gap over `gapMs` starts a new one): a rollout's stages. */
export function bursts(times: readonly number[], gapMs = 1500): Array<{ count: number; spanMs: number; perSecond: number }> {
  const s = [...times].sort((a, b) => a - b);
  const out: Array<{ count: number; spanMs: number; perSecond: number }> = [];
  let start = 0;
  for (let i = 1; i <= s.length; i++) {
    if (i === s.length || s[i] - s[i - 1] > gapMs) {
      const span = s[i - 1] - s[start];
      const count = i - start;
      out.push({ count, spanMs: span, perSecond: span > 0 ? count / (span / 1000) : NaN });
      start = i;
    }
  }
  return out;
}
