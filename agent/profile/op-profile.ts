// The operator profile of a job that asks for one (opProfile): a second
// onnxruntime session with session profiling on, run after the measurement so
// that the profiler's per-kernel bookkeeping never touches the latency the
// profile reports. onnxruntime writes its trace to `<prefix>_<date>.json` at
// endProfiling(); the file lives in a private temporary folder, is parsed and
// mapped onto the model's nodes (compress/latency/) and removed.
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { modelGroupTimes, type GroupTime } from '../../compress/latency/groups.js';
import { mapTrace, nodeUs, type OpProfile } from '../../compress/latency/op-profile.js';
import { parseTrace } from '../../compress/latency/trace.js';
import { readModel } from '../../compress/onnx/read.js';
import { OP_PROFILE_LIMITS, type OpProfileReport } from '../../protocol/messages.js';

export interface OpProfileInput {
  bytes: Uint8Array;
  threads: number | null;
  executionProviders: ort.InferenceSession.ExecutionProviderConfig[];
  feeds: Record<string, ort.Tensor>;
  /** Runs before the profiled ones (the first allocates); at least 1. */
  warmup: number;
  runs: number;
}

/** Profiled runs when the job says nothing: enough for a mean per node, few enough to cost seconds at 640 px on a Pi. */
export const OP_PROFILE_RUNS = 20;
export const OP_PROFILE_MAX_RUNS = 200;

const ms = (us: number) => Math.round(us) / 1000;
const cut = (s: string) => (s.length > OP_PROFILE_LIMITS.name ? s.slice(0, OP_PROFILE_LIMITS.name) : s);

/** The `limit` largest by `size`, in their original order. */
function largest<T>(items: readonly T[], limit: number, size: (t: T) => number): T[] {
  if (items.length <= limit) return [...items];
  const keep = new Set([...items].sort((a, b) => size(b) - size(a)).slice(0, limit));
  return items.filter((t) => keep.has(t));
}

/** The protocol's form of a mapped profile: milliseconds, names and lists bounded. */
export function toReport(profile: OpProfile, groups: readonly GroupTime[], threads: number | null): OpProfileReport {
  const nodes = largest(profile.nodes, OP_PROFILE_LIMITS.nodes, nodeUs);
  const unmapped = largest(profile.unmapped, OP_PROFILE_LIMITS.unmapped, (u) => u.us);
  const kept = largest(groups, OP_PROFILE_LIMITS.groups, (g) => g.us);
  return {
    threads,
    runs: profile.runs,
    warmupRuns: profile.warmupRuns,
    runMs: ms(profile.runUs),
    kernelMs: ms(profile.kernelUs),
    nodes: nodes.map((n) => ({ node: cut(n.node), op: n.op.slice(0, 64), ms: ms(n.ownUs), absorbedMs: ms(n.absorbedUs) })),
    unmapped: unmapped.map((u) => ({ name: cut(u.name), op: u.op.slice(0, 64), ms: ms(u.us), to: u.to === null ? null : cut(u.to) })),
    absent: profile.absent,
    groups: kept.map((g) => ({ group: cut(g.group), units: g.units, ms: ms(g.us), convs: g.convs })),
    truncated: nodes.length < profile.nodes.length || unmapped.length < profile.unmapped.length || kept.length < groups.length,
  };
}

export async function measureOpProfile(input: OpProfileInput): Promise<OpProfileReport> {
  const warmup = Math.max(1, input.warmup);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'edgefit-op-profile-'));
  try {
    const session = await ort.InferenceSession.create(input.bytes, {
      executionProviders: input.executionProviders,
      graphOptimizationLevel: 'all',
      enableProfiling: true,
      profileFilePrefix: path.join(dir, 'trace'),
      ...(input.threads === null ? {} : { intraOpNumThreads: input.threads }),
    });
    try {
      for (let i = 0; i < warmup + input.runs; i++) await session.run(input.feeds);
    } finally {
      session.endProfiling();
      await session.release();
    }
    const files = (await readdir(dir)).filter((f) => f.endsWith('.json'));
    if (files.length !== 1) throw new Error(`onnxruntime wrote ${files.length} profile files (expected 1) with enableProfiling`);
    const trace = parseTrace(JSON.parse(await readFile(path.join(dir, files[0]), 'utf8')), warmup);
    const model = readModel(input.bytes);
    const profile = mapTrace(trace, model.graph.nodes);
    const convUs = new Map(profile.nodes.filter((n) => n.op === 'Conv').map((n) => [n.node, nodeUs(n)]));
    return toReport(profile, modelGroupTimes(model, convUs), input.threads);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
