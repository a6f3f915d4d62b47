// Where a model's time goes, per op type of the graph onnxruntime runs: one
// session with session profiling on (one intra-op thread, like the latency
// column), its trace read by compress/latency/trace.ts and summed per
// args.op_name. The layout reorders of the NCHWc float convs show up as
// ReorderInput / ReorderOutput, the integer kernels as QLinear* (com.microsoft),
// the remaining float<->int8 edges as QuantizeLinear / DequantizeLinear.
// Profiling adds per-kernel bookkeeping, and on a loaded machine every
// kernel's wall time stretches, so each op type's share of the kernel time is
// scaled to the process CPU time of a profiled run (cpuMs): an estimate of the
// op type's own work that the machine's load moves much less.
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { parseTrace } from '../compress/latency/trace.js';

export interface OpTypeProfile {
  /** Mean wall time of a profiled run, ms. */
  runMs: number;
  /** Mean process CPU time (user + system) of a profiled run, ms. */
  cpuMs: number;
  /** Mean kernel time per run per op type, ms. */
  byOp: Map<string, number>;
  /** Executed nodes per op type. */
  counts: Map<string, number>;
}

export async function profileByOpType(bytes: Uint8Array, feeds: Record<string, ort.Tensor>, runs: number, warmup = 2): Promise<OpTypeProfile> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'edgefit-optype-'));
  try {
    const session = await ort.InferenceSession.create(bytes, {
      graphOptimizationLevel: 'all',
      intraOpNumThreads: 1,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      enableProfiling: true,
      profileFilePrefix: path.join(dir, 'trace'),
    });
    let cpuMs = 0;
    try {
      for (let i = 0; i < warmup; i++) await session.run(feeds);
      const c0 = process.cpuUsage();
      for (let i = 0; i < runs; i++) await session.run(feeds);
      const used = process.cpuUsage(c0);
      cpuMs = (used.user + used.system) / 1000 / runs;
    } finally {
      session.endProfiling();
      await session.release();
    }
    const files = (await readdir(dir)).filter((f) => f.endsWith('.json'));
    if (files.length !== 1) throw new Error(`onnxruntime wrote ${files.length} profile files (expected 1)`);
    const trace = parseTrace(JSON.parse(await readFile(path.join(dir, files[0]), 'utf8')), warmup);
    const byOp = new Map<string, number>();
    const counts = new Map<string, number>();
    for (const n of trace.nodes) {
      byOp.set(n.op, (byOp.get(n.op) ?? 0) + n.us / 1000);
      counts.set(n.op, (counts.get(n.op) ?? 0) + 1);
    }
    return { runMs: trace.runUs / 1000, cpuMs, byOp, counts };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const kernelMs = (p: OpTypeProfile) => [...p.byOp.values()].reduce((s, x) => s + x, 0);

/** An op type's share of the kernel time times the run's CPU time: its estimated CPU ms per run. */
export const opCpuMs = (p: OpTypeProfile, op: string) => ((p.byOp.get(op) ?? 0) / kernelMs(p)) * p.cpuMs;

/** A markdown table: op type, then estimated CPU ms (and node count) per profile, largest first by the last profile. */
export function opTypeTable(names: readonly string[], profiles: readonly OpTypeProfile[]): string[] {
  const ops = new Set(profiles.flatMap((p) => [...p.byOp.keys()]));
  const last = profiles[profiles.length - 1];
  const rows = [...ops].sort((a, b) => opCpuMs(last, b) - opCpuMs(last, a) || a.localeCompare(b));
  const cell = (p: OpTypeProfile, op: string) => (p.byOp.has(op) ? `${opCpuMs(p, op).toFixed(2)} (${p.counts.get(op)})` : '');
  const lines = [`| op type | ${names.map((n) => `${n}: CPU ms (nodes)`).join(' | ')} |`, `|---|${names.map(() => '---').join('|')}|`];
  for (const op of rows) lines.push(`| ${op} | ${profiles.map((p) => cell(p, op)).join(' | ')} |`);
  lines.push(`| run, CPU ms | ${profiles.map((p) => p.cpuMs.toFixed(2)).join(' | ')} |`);
  lines.push(`| run, wall ms (profiled) | ${profiles.map((p) => p.runMs.toFixed(2)).join(' | ')} |`);
  return lines;
}
