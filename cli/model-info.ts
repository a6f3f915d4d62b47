// edgefit model info FILE [--optimized] [--json]
import { parse, printJson, UsageError } from './args.js';
import { usageLine, type CommandSpec } from './command-spec.js';
import type { Lineage } from '../compress/lineage.js';
import { modelInfo, runtimeOps, weightFormatLabel, type ModelInfo, type RuntimeOps, type RuntimePrecision, type TensorSummary } from '../compress/onnx/info.js';
import { optimizedModel } from '../compress/onnx/optimized.js';
import { ModelFormatError, readModelFileBytes } from '../compress/onnx/read.js';
import { oneLine } from '../protocol/one-line.js';

function shape(t: TensorSummary): string {
  return t.shape ? `[${t.shape.map((d) => (d === null ? '?' : d)).join(', ')}]` : '[?]';
}

function millions(n: number): string {
  return n >= 1e6 ? `${(n / 1e6).toFixed(2)} M` : n.toLocaleString('en-US');
}

/** A parameter value on one short line: lists joined, long values cut (the JSON output has them whole). */
function paramValue(value: unknown): string {
  const text = Array.isArray(value) ? value.map((v) => (typeof v === 'string' ? v : JSON.stringify(v))).join(',') : typeof value === 'string' ? value : JSON.stringify(value);
  return text.length > 40 ? `${text.slice(0, 39)}…` : text;
}

/** One row for the base, then one per step: its method and its parameters. */
function lineageRows(lineage: Lineage | null): [string, string][] {
  if (!lineage) return [['lineage', '-']];
  const base = lineage.base === null ? 'no base file (built by edgefit, see its build step)' : `base ${lineage.base.slice(0, 12)} (sha256 of the file the chain started from)`;
  return [
    ['lineage', base],
    ...lineage.steps.map((s, i): [string, string] => {
      const params = Object.entries(s.params)
        .filter(([, v]) => v !== undefined && !(Array.isArray(v) && v.length === 0))
        .map(([k, v]) => `${k}=${paramValue(v)}`);
      return ['', [`${i + 1}. ${s.method}`, ...params].join(' ')];
    }),
  ];
}

const PRECISION_LABEL: Record<RuntimePrecision, string> = {
  integer: 'integer',
  convert: 'float<->int8',
  float: 'float',
  other: 'other',
};

/** One row per precision: the op types onnxruntime runs in it, with counts. */
function runtimeRows(ops: RuntimeOps): [string, string][] {
  const rows: [string, string][] = [['onnxruntime', `${ops.nodes} nodes after the CPU provider's graph optimizations (the graph it runs)`]];
  for (const [precision, label] of Object.entries(PRECISION_LABEL) as [RuntimePrecision, string][]) {
    const counts = Object.entries(ops.byPrecision[precision]);
    if (counts.length === 0) continue;
    const total = counts.reduce((n, [, c]) => n + c, 0);
    rows.push([`  ${label}`, `${total}: ${counts.map(([op, n]) => `${op} ${n}`).join(', ')}`]);
  }
  return rows;
}

export function formatInfo(file: string, info: ModelInfo): string {
  const rows: [string, string][] = [
    ['file', file],
    ['format', weightFormatLabel[info.weightFormat]],
    ['ir / opset', `IR ${info.irVersion}, ${Object.entries(info.opsets).map(([d, v]) => `${d} ${v}`).join(', ')}`],
    ['producer', info.producer || '-'],
    ...info.inputs.map((t): [string, string] => ['input', `${t.name} ${t.type} ${shape(t)}`]),
    ...info.outputs.map((t): [string, string] => ['output', `${t.name} ${t.type} ${shape(t)}`]),
    ['parameters', `${millions(info.parameters)} (${info.parameters.toLocaleString('en-US')})`],
    ['GFLOPs', `${info.gflops.toFixed(2)} (2 x MACs of conv + linear, Ultralytics convention)` + (info.matmulFlops ? `, +${(info.matmulFlops / 1e9).toFixed(3)} attention matmul` : '')],
    ['weights', `${(info.weightBytes / 2 ** 20).toFixed(2)} MiB stored`],
    ['nodes', `${info.nodes}: ${Object.entries(info.ops).map(([op, n]) => `${op} ${n}`).join(', ')}`],
  ];
  const u = info.ultralytics;
  if (u.task || u.version || u.imgsz || u.names) {
    const classes = u.names ? Object.keys(u.names).length : 0;
    const first = u.names ? Object.values(u.names).slice(0, 4).join(', ') + (classes > 4 ? ', ...' : '') : '';
    rows.push(['ultralytics', [u.task && `task ${u.task}`, u.version && `version ${u.version}`, u.imgsz && `imgsz ${u.imgsz.join('x')}`, u.stride && `stride ${u.stride}`].filter(Boolean).join(', ')]);
    if (u.names) rows.push(['classes', `${classes}: ${first}`]);
  }
  rows.push(...lineageRows(info.lineage));
  // the rule detect, profile and the agent apply to the input, so this line and they agree
  rows.push(['runnable', info.runnable.ok ? 'yes, as a detector (one float image input [1,3,H,W])' : `no: ${info.runnable.reason}`]);
  if (info.onnxruntime) rows.push(...runtimeRows(info.onnxruntime));
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n') + '\n';
}

/** An unreadable model throws E_MODEL_FORMAT: main prints it and exits 1. */
export async function run(argv: string[], spec: CommandSpec): Promise<number> {
  const { values, positionals } = parse('model info', argv, { optimized: { type: 'boolean' }, json: { type: 'boolean' } });
  if (positionals.length !== 1) throw new UsageError(usageLine(spec));
  const file = positionals[0];
  const { model, bytes } = readModelFileBytes(file);
  let info: ModelInfo;
  try {
    info = modelInfo(model);
  } catch (err) {
    // a file that decodes but whose graph the analysis cannot follow (a malformed attribute, a cycle): one line, never a stack
    throw new ModelFormatError(`${file}: cannot analyse the model: ${oneLine(err instanceof Error ? err.message : String(err))}`);
  }
  if (values.optimized) {
    try {
      info.onnxruntime = runtimeOps(await optimizedModel(bytes));
    } catch (err) {
      // onnxruntime refuses the graph (an op it lacks, a type mismatch): what it runs cannot be told
      process.stderr.write(`edgefit model info: ${file}: onnxruntime cannot load it: ${oneLine(err instanceof Error ? err.message : String(err))}\n`);
      return 1;
    }
  }
  if (values.json) printJson({ file, ...info });
  else process.stdout.write(formatInfo(file, info));
  return 0;
}
