// onnxruntime's session profile (enableProfiling, then endProfiling) is a
// Chrome-trace JSON array. Per run it holds one Session event `model_run` and,
// per executed kernel, a Node event `<node>_kernel_time` with args.op_name and
// the duration in µs (`_fence_before`/`_fence_after` events carry no work).
// This file reads such a trace into time per executed node, averaged over the
// measured runs; warm-up runs (the first, which allocates, above all) are
// skipped. Pure: no onnxruntime here, the agent hands it the parsed file.

export interface TraceNode {
  /** The node's name in onnxruntime's optimized graph ('fused /model.0/conv/Conv', 'ReorderInput_token_3'). */
  name: string;
  /** args.op_name: the optimized graph's op type (Conv, FusedConv, QuickGelu, QLinearConv…). */
  op: string;
  provider: string | null;
  /** Mean kernel time per measured run, µs. */
  us: number;
}

export interface TraceSummary {
  /** Measured runs (model_run events after the warm-up). */
  runs: number;
  warmupRuns: number;
  /** Mean wall time of a measured model_run, µs (kernels plus the executor's own work). */
  runUs: number;
  /** Executed nodes in the order of the first measured run. */
  nodes: TraceNode[];
}

export class TraceError extends Error {
  override name = 'TraceError';
}

interface RawEvent {
  cat?: unknown;
  name?: unknown;
  ts?: unknown;
  dur?: unknown;
  args?: unknown;
}

const KERNEL_SUFFIX = '_kernel_time';

function events(json: unknown): RawEvent[] {
  // onnxruntime writes a bare array; the Chrome trace format also allows { traceEvents: [...] }
  const list = Array.isArray(json) ? json : json && typeof json === 'object' && Array.isArray((json as { traceEvents?: unknown }).traceEvents) ? (json as { traceEvents: unknown[] }).traceEvents : undefined;
  if (!list) throw new TraceError('not an onnxruntime profile: expected a JSON array of trace events');
  return list.filter((e): e is RawEvent => !!e && typeof e === 'object');
}

const isNum = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);

/** Time per executed node, mean over the runs after the first `warmupRuns`. */
export function parseTrace(json: unknown, warmupRuns: number): TraceSummary {
  const all = events(json);
  const runs = all
    .filter((e) => e.cat === 'Session' && e.name === 'model_run' && isNum(e.ts) && isNum(e.dur))
    .map((e) => ({ ts: e.ts as number, end: (e.ts as number) + (e.dur as number), dur: e.dur as number }))
    .sort((a, b) => a.ts - b.ts);
  if (runs.length <= warmupRuns) throw new TraceError(`the trace holds ${runs.length} runs and ${warmupRuns} of them are warm-up: nothing measured`);
  const measured = runs.slice(warmupRuns);
  const firstMeasured = measured[0].ts;
  const runOf = (ts: number): number => {
    // binary search: the last run that starts at or before ts
    let lo = 0;
    let hi = runs.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (runs[mid].ts <= ts) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found >= 0 && ts <= runs[found].end ? found : -1;
  };
  const byName = new Map<string, TraceNode & { first: number }>();
  for (const e of all) {
    if (e.cat !== 'Node' || typeof e.name !== 'string' || !e.name.endsWith(KERNEL_SUFFIX) || !isNum(e.ts) || !isNum(e.dur)) continue;
    const run = runOf(e.ts);
    if (run < warmupRuns) continue; // warm-up, or outside every run (session initialisation)
    const name = e.name.slice(0, -KERNEL_SUFFIX.length);
    const args = (e.args && typeof e.args === 'object' ? e.args : {}) as { op_name?: unknown; provider?: unknown };
    let node = byName.get(name);
    if (!node) {
      node = { name, op: typeof args.op_name === 'string' ? args.op_name : '?', provider: typeof args.provider === 'string' ? args.provider : null, us: 0, first: Infinity };
      byName.set(name, node);
    }
    node.us += e.dur;
    if (run === warmupRuns) node.first = Math.min(node.first, e.ts - firstMeasured);
  }
  const nodes = [...byName.values()]
    .sort((a, b) => a.first - b.first)
    .map((n) => ({ name: n.name, op: n.op, provider: n.provider, us: n.us / measured.length }));
  return { runs: measured.length, warmupRuns, runUs: measured.reduce((s, r) => s + r.dur, 0) / measured.length, nodes };
}
