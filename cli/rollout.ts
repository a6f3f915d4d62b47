import { readFileSync } from 'node:fs';
import { parseSpecText } from '../controller/rollout/spec.js';
import { EdgefitError, isCoded } from '../protocol/errors.js';
import type { rolloutStatus } from '../controller/rollout/status.js';
import { UsageError, parse, printJson } from './args.js';
import { ApiClient } from './api-client.js';

type Status = ReturnType<typeof rolloutStatus>;
const common = { json: { type: 'boolean' }, controller: { type: 'string' }, data: { type: 'string' } } as const;

export function printStatus(s: Status): void {
  process.stdout.write(`rollout ${s.id}${s.spec.name ? ` (${s.spec.name})` : ''}: ${s.state}, stage ${s.stage}${s.reason ? ` — ${s.reason}` : ''}\n`);
  for (const c of s.classes) {
    process.stdout.write(`  class ${c.deviceClass}: ${c.profiles} profile(s) of ${c.exhaustive} for exhaustive profiling${c.providers.length ? ` (on ${c.providers.join(', ')})` : ''}\n`);
    printPredictions(c.predictions);
  }
  for (const d of s.devices) {
    // the device's own SLO verdict is about the model it serves, which is this rollout's only once it serves the choice
    const verdict = d.slo ? (d.slo.met ? ' (SLO met)' : ` (SLO missed: ${d.slo.violations.join(', ')})`) : '';
    const live = d.live ? `, serving ${d.live.fps} FPS${d.live.servingChosen ? verdict : ' on its previous model'}` : '';
    process.stdout.write(`  ${d.deviceId} [stage ${d.stage}] ${d.state}${d.candidate ? ` → ${d.candidate}${d.ep ? ` on ${d.ep}` : ''}` : ''}${live}${d.error ? ` — ${d.error}` : ''}\n`);
    if (d.explanation) process.stdout.write(`      ${d.explanation}\n`);
  }
}

/** Per class, what its latency predictor said before each profile against what the profile measured (mean model latency). */
function printPredictions(p: Status['classes'][number]['predictions']): void {
  if (!p.rows.length) return;
  const pct = (x: number | null) => (x === null ? 'n/a' : `${x.toFixed(1)} %`);
  process.stdout.write(`    latency predictor: MAPE ${pct(p.mapePct)} on ${p.rows.filter((r) => r.measuredMs !== null).length} profiled candidate(s) (leave-one-out on the class's op profiles: ${pct(p.predictorMapePct)})\n`);
  for (const r of p.rows) {
    const measured = r.measuredMs === null ? 'not measured yet' : `measured ${r.measuredMs.toFixed(1)} ms, error ${r.errorPct! >= 0 ? '+' : ''}${r.errorPct!.toFixed(1)} %`;
    process.stdout.write(`      ${r.candidate ?? '?'} on ${r.ep}: predicted ${r.predictedMs.toFixed(1)} ms, ${measured}\n`);
  }
}

/** `edgefit rollout create SPEC [--json]`: SPEC is YAML or JSON. A spec that is missing or wrong is unusable input (E_SPEC, exit 1), like a broken model file. */
export async function create(argv: string[]): Promise<void> {
  const { values, positionals } = parse('rollout create', argv, common);
  if (positionals.length !== 1) throw new UsageError('rollout create: give exactly one SPEC file (YAML or JSON)');
  let text: string;
  try {
    text = readFileSync(positionals[0], 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new EdgefitError('E_SPEC', { reason: `cannot read ${positionals[0]}: ${e.code === 'ENOENT' ? 'no such file' : e.code === 'EISDIR' ? 'a folder, not a spec file' : (e.code ?? e.message)}` });
  }
  let spec;
  try {
    spec = parseSpecText(text);
  } catch (err) {
    // the spec's problem, said with the file it is in
    if (isCoded(err, 'E_SPEC')) throw new EdgefitError('E_SPEC', { reason: `${positionals[0]}: ${err.message}` });
    throw err;
  }
  const api = ApiClient.fromFlags('rollout create', values.controller, values.data);
  const s = await api.request<Status>('POST', '/api/rollouts', spec);
  if (values.json) return printJson(s);
  printStatus(s);
}

/** `edgefit rollout status [ID] [--json]`: without ID, every rollout. */
export async function status(argv: string[]): Promise<void> {
  const { values, positionals } = parse('rollout status', argv, common);
  if (positionals.length > 1) throw new UsageError('rollout status: give at most one rollout ID');
  const api = ApiClient.fromFlags('rollout status', values.controller, values.data);
  if (positionals.length === 0) {
    const { rollouts } = await api.request<{ rollouts: Status[] }>('GET', '/api/rollouts');
    if (values.json) return printJson(rollouts);
    if (rollouts.length === 0) return void process.stdout.write("no rollouts yet: start one with 'edgefit rollout create SPEC'\n");
    for (const r of rollouts) printStatus(r);
    return;
  }
  const s = await api.request<Status>('GET', `/api/rollouts/${encodeURIComponent(positionals[0])}`);
  if (values.json) return printJson(s);
  printStatus(s);
}

function action(name: 'pause' | 'resume' | 'abort') {
  return async (argv: string[]): Promise<void> => {
    const { values, positionals } = parse(`rollout ${name}`, argv, common);
    if (positionals.length !== 1) throw new UsageError(`rollout ${name}: give the rollout ID`);
    const api = ApiClient.fromFlags(`rollout ${name}`, values.controller, values.data);
    const s = await api.request<Status>('POST', `/api/rollouts/${encodeURIComponent(positionals[0])}/${name}`);
    if (values.json) return printJson(s);
    printStatus(s);
  };
}

export const pause = action('pause');
export const resume = action('resume');
export const abort = action('abort');
