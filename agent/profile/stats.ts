import type { LatencyStats } from '../../protocol/messages.js';

/** Percentile of ascending-sorted samples, linear between ranks (numpy's default). */
export function percentile(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const rank = (q / 100) * (n - 1);
  const lo = Math.floor(rank);
  const hi = Math.min(n - 1, lo + 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo);
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;

/** min / p50 / p90 / p95 / p99 / max / mean / population std of latencies in ms. */
export function latencyStats(samplesMs: readonly number[]): LatencyStats {
  const n = samplesMs.length;
  if (n === 0) return { n: 0, minMs: 0, p50Ms: 0, p90Ms: 0, p95Ms: 0, p99Ms: 0, maxMs: 0, meanMs: 0, stdMs: 0 };
  const sorted = Float64Array.from(samplesMs).sort();
  let sum = 0;
  for (const x of sorted) sum += x;
  const mean = sum / n;
  let sq = 0;
  for (const x of sorted) sq += (x - mean) ** 2;
  return {
    n,
    minMs: round3(sorted[0]),
    p50Ms: round3(percentile(sorted, 50)),
    p90Ms: round3(percentile(sorted, 90)),
    p95Ms: round3(percentile(sorted, 95)),
    p99Ms: round3(percentile(sorted, 99)),
    maxMs: round3(sorted[n - 1]),
    meanMs: round3(mean),
    stdMs: round3(Math.sqrt(sq / n)),
  };
}

/** Frames per second of frames whose completion times (ms) fall in [fromMs, toMs). */
export function windowFps(doneAtMs: readonly number[], fromMs: number, toMs: number): number {
  if (toMs <= fromMs) return 0;
  let count = 0;
  for (const t of doneAtMs) if (t >= fromMs && t < toMs) count++;
  return (count * 1000) / (toMs - fromMs);
}

/** Throughput implied by a mean latency: one frame after another, nothing overlapping. */
export function fpsOf(stats: LatencyStats): number {
  return stats.meanMs > 0 ? Math.round((100_000 / stats.meanMs)) / 100 : 0;
}
