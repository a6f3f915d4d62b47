import path from 'node:path';
import { ProfileOptions, type ProfileReport } from '../protocol/messages.js';
import { runProfile } from '../agent/profile/run.js';
import { UsageError, choiceFlag, intFlag, numberFlag, parse, printJson } from './args.js';
import { EXECUTION_PROVIDERS, type ExecutionProvider, type ProviderOptions } from '../protocol/messages.js';
import { firstIssue } from '../protocol/first-issue.js';

const COMMAND = 'profile';
const DEFAULT_SUSTAINED_S = 60;
const flags = {
  duration: { type: 'string' },
  runs: { type: 'string' },
  warmup: { type: 'string' },
  threads: { type: 'string' },
  'threads-sweep': { type: 'string' },
  sustained: { type: 'string' },
  ep: { type: 'string' },
  'trt-fp16': { type: 'boolean' },
  'trt-int8': { type: 'boolean' },
  'device-id': { type: 'string' },
  // applied by main before this module loaded (see onnxruntime-flag.ts)
  onnxruntime: { type: 'string' },
  'max-temp': { type: 'string' },
  frames: { type: 'string' },
  timeout: { type: 'string' },
  'op-profile': { type: 'boolean' },
  json: { type: 'boolean' },
} as const;

/** `--sustained` takes an optional number of seconds: a bare flag means the default. */
export function expandSustained(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    out.push(argv[i]);
    if (argv[i] === '--sustained' && !(i + 1 < argv.length && /^\d+(\.\d+)?$/.test(argv[i + 1]))) out.push(String(DEFAULT_SUSTAINED_S));
  }
  return out;
}

function threadList(value: string): number[] {
  const list = value.split(',').map((s) => (/^\d+$/.test(s.trim()) ? Number(s.trim()) : NaN));
  if (list.length === 0 || list.some((n) => !Number.isInteger(n) || n < 1 || n > 256)) {
    throw new UsageError(`${COMMAND}: --threads-sweep must be a comma-separated list of thread counts like 1,2,4, got '${value}'`);
  }
  return list;
}

/** TensorRT and CUDA options from their flags; a flag the chosen provider would ignore is a mistake, not a no-op. */
function providerOptionFlags(ep: ExecutionProvider, values: { 'trt-fp16'?: boolean; 'trt-int8'?: boolean; 'device-id'?: string }): ProviderOptions | undefined {
  for (const flag of ['trt-fp16', 'trt-int8'] as const) {
    if (values[flag] && ep !== 'tensorrt') throw new UsageError(`${COMMAND}: --${flag} needs --ep tensorrt (got --ep ${ep})`);
  }
  if (values['device-id'] !== undefined && ep === 'cpu') throw new UsageError(`${COMMAND}: --device-id needs --ep cuda or tensorrt`);
  const options: ProviderOptions = {
    ...(values['device-id'] === undefined ? {} : { deviceId: intFlag(COMMAND, 'device-id', values['device-id'], 0, 0, 15) }),
    ...(values['trt-fp16'] ? { trtFp16: true } : {}),
    ...(values['trt-int8'] ? { trtInt8: true } : {}),
  };
  return Object.keys(options).length > 0 ? options : undefined;
}

/** `edgefit profile MODEL [--duration S] [--runs N] [--warmup N] [--threads N|--threads-sweep 1,2,4] [--sustained [S]] [--ep cpu] [--max-temp C] [--json]` */
export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parse(COMMAND, expandSustained(argv), flags);
  if (positionals.length !== 1) throw new UsageError(`${COMMAND}: expected one MODEL file, got ${positionals.length}`);
  if (values.threads !== undefined && values['threads-sweep'] !== undefined) throw new UsageError(`${COMMAND}: give --threads or --threads-sweep, not both`);
  const ep = choiceFlag(COMMAND, 'ep', values.ep, EXECUTION_PROVIDERS, 'cpu');
  const parsed = ProfileOptions.safeParse({
    runs: values.runs === undefined ? undefined : intFlag(COMMAND, 'runs', values.runs, 0, 1, 1_000_000),
    durationS: values.duration === undefined ? undefined : numberFlag(COMMAND, 'duration', values.duration, 0, 0.001, 3600),
    warmup: intFlag(COMMAND, 'warmup', values.warmup, 10, 0, 10_000),
    threads: values.threads === undefined ? undefined : intFlag(COMMAND, 'threads', values.threads, 0, 1, 256),
    threadsSweep: values['threads-sweep'] === undefined ? undefined : threadList(values['threads-sweep']),
    sustainedS: values.sustained === undefined ? undefined : numberFlag(COMMAND, 'sustained', values.sustained, DEFAULT_SUSTAINED_S, 1, 3600),
    ep,
    providerOptions: providerOptionFlags(ep, values),
    maxTempC: values['max-temp'] === undefined ? undefined : numberFlag(COMMAND, 'max-temp', values['max-temp'], 0, 0, 150),
    timeoutS: values.timeout === undefined ? undefined : numberFlag(COMMAND, 'timeout', values.timeout, 0, 1, 7200),
    opProfile: values['op-profile'] ? true : undefined,
  });
  if (!parsed.success) throw new UsageError(`${COMMAND}: ${firstIssue(parsed.error, 'options')}`);
  const modelPath = path.resolve(positionals[0]);
  const result = await runProfile({ modelPath, options: parsed.data, framesDir: values.frames });
  if (values.json) {
    printJson(result.ok ? { ok: true, model: modelPath, profile: result.report } : { ok: false, model: modelPath, error: result.error });
  } else if (result.ok) {
    process.stdout.write(formatReport(modelPath, result.report));
  } else {
    process.stderr.write(`edgefit ${COMMAND}: ${result.error}\n`);
  }
  return result.ok ? 0 : 1;
}

const ms = (x: number) => x.toFixed(2);
const orDash = (x: number | null, unit = '') => (x === null ? '—' : `${x}${unit}`);

function formatReport(model: string, r: ProfileReport): string {
  const lines = [
    `${model}  (${r.ep}${r.providerOptions ? ` ${JSON.stringify(r.providerOptions)}` : ''}, ${r.threads ?? 'default'} threads, input [${r.inputShape.join(',')}], frame ${r.frame.width}x${r.frame.height})`,
    `  session create   ${ms(r.sessionCreateMs)} ms, ${r.warmupRuns} warm-up runs`,
    `  model only       p50 ${ms(r.model.p50Ms)}  p90 ${ms(r.model.p90Ms)}  p95 ${ms(r.model.p95Ms)}  p99 ${ms(r.model.p99Ms)}  min ${ms(r.model.minMs)}  max ${ms(r.model.maxMs)}  mean ${ms(r.model.meanMs)} ± ${ms(r.model.stdMs)} ms  (${r.model.n} runs)  ${r.modelFps} FPS`,
    `  end to end       p50 ${ms(r.endToEnd.p50Ms)}  p95 ${ms(r.endToEnd.p95Ms)}  mean ${ms(r.endToEnd.meanMs)} ms  (${r.endToEnd.n} runs)  ${r.endToEndFps} FPS`,
    `  memory           RSS after load ${r.memory.rssAfterLoadMb} MB, peak ${r.memory.peakRssMb} MB, growth ${r.memory.rssGrowthMb} MB${r.memory.source === 'proc-status' ? ' (from /proc/self/status)' : ''}`,
    `  cpu              ${orDash(r.cpuPct, '%')} of one core; load ${orDash(r.environment.load1)}`,
    `  temperature      before ${orDash(r.temperature.beforeC, ' °C')}, peak ${orDash(r.temperature.peakC, ' °C')}, after ${orDash(r.temperature.afterC, ' °C')}`,
    `  throttling       clock drop ${orDash(r.throttling.maxClockDropPct, '%')}, firmware ${r.throttling.firmwareThrottled === null ? '—' : r.throttling.firmwareThrottled ? `throttled (${r.throttling.firmwareFlags?.join(', ')})` : 'ok'}`,
  ];
  if (r.sustained) lines.push(`  sustained        ${r.sustained.durationS} s: ${r.sustained.firstFps} FPS first ${r.sustained.windowS} s → ${r.sustained.lastFps} FPS last (${r.sustained.dropPct}% drop)`);
  if (r.sweep) for (const s of r.sweep) lines.push(`  threads ${String(s.threads).padEnd(8)} model p50 ${ms(s.model.p50Ms)} ms  ${s.modelFps} FPS model, ${s.endToEndFps} FPS end to end`);
  if (r.opProfileError) lines.push(`  operator profile ${r.opProfileError}`);
  if (r.opProfile) lines.push(...formatOpProfile(r.opProfile));
  return lines.join('\n') + '\n';
}

/** The longest layers of an operator profile (--op-profile), with their share of the kernel time. */
function formatOpProfile(p: NonNullable<ProfileReport['opProfile']>, top = 10): string[] {
  const total = p.kernelMs > 0 ? p.kernelMs : 1;
  const nodes = [...p.nodes].sort((a, b) => b.ms + b.absorbedMs - (a.ms + a.absorbedMs)).slice(0, top);
  const width = Math.max(...nodes.map((n) => n.node.length), 4);
  return [
    `  operator profile ${p.runs} runs after ${p.warmupRuns} warm-up, ${p.threads ?? 'default'} threads: kernels ${ms(p.kernelMs)} of a ${ms(p.runMs)} ms profiled run; ${p.unmapped.length} kernels with no model node (time given to a neighbour), ${p.absent} nodes without a kernel of their own`,
    ...nodes.map((n) => `    ${n.node.padEnd(width)}  ${n.op.padEnd(10)} ${ms(n.ms + n.absorbedMs).padStart(8)} ms  ${((100 * (n.ms + n.absorbedMs)) / total).toFixed(1).padStart(5)}%`),
  ];
}
