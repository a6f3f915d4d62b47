import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { BaseModel, Candidate, LadderJob } from '../controller/catalog/catalog.js';
import { choiceFlag, UsageError, parse, printJson } from './args.js';
import { LADDER_NAMES, parseLadderSizes } from '../controller/catalog/ladder-options.js';
import { ApiClient } from './api-client.js';
import { EdgefitError } from '../protocol/errors.js';

const common = { json: { type: 'boolean' }, controller: { type: 'string' }, data: { type: 'string' } } as const;
type ModelSummary = BaseModel & { candidates: number; ladder: LadderJob | null };

export function accuracyText(c: Pick<Candidate, 'accuracy'>): string {
  const a = c.accuracy;
  if (a.kind === 'none-synthetic') return 'synthetic (no accuracy)';
  if (a.value === null) return `${a.kind}: not measured`;
  return `${a.value.toFixed(3)} ${a.kind}`;
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd()).join('\n') + '\n';
}

/** A model file to upload as it is: the controller checks it. Unreadable, it is input that cannot be used (exit 1), as in the model commands. */
export function readUpload(command: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new EdgefitError('E_MODEL_FORMAT', { reason: `${command}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` });
  }
}

export async function upload<T>(api: ApiClient, p: string, bytes: Buffer): Promise<T> {
  return api.request<T>('POST', p, bytes);
}

/** `edgefit models [--json]`: base models with their ladders. */
export async function run(argv: string[]): Promise<void> {
  const { values } = parse('models', argv, common, false);
  const api = ApiClient.fromFlags('models', values.controller, values.data);
  const { models } = await api.request<{ models: ModelSummary[] }>('GET', '/api/models');
  if (values.json) {
    const full = await Promise.all(models.map(async (m) => ({ ...m, ladderCandidates: (await api.request<{ candidates: Candidate[] }>('GET', `/api/models/${m.id}/candidates`)).candidates })));
    return printJson(full);
  }
  if (models.length === 0) return void process.stdout.write("no models yet: add one with 'edgefit models add FILE'\n");
  for (const m of models) {
    const ladder = m.ladder ? `ladder ${m.ladder.state}${m.ladder.state === 'running' ? ` ${m.ladder.done}/${m.ladder.total} (${m.ladder.message ?? ''})` : ''}${m.ladder.error ? `: ${m.ladder.error}` : ''}` : 'no ladder';
    process.stdout.write(`${m.id}  ${m.name}  ${m.format} ${m.imgsz}px  ${(m.flops / 1e9).toFixed(2)} GFLOPs${m.synthetic ? '  SYNTHETIC weights (latency only)' : ''}  ${ladder}\n`);
    const { candidates } = await api.request<{ candidates: Candidate[] }>('GET', `/api/models/${m.id}/candidates`);
    if (candidates.length === 0) continue;
    const rows = [['  CANDIDATE', 'METHOD', 'PRECISION', 'IMGSZ', 'GFLOPS', 'PARAMS', 'SIZE', 'ACCURACY']];
    for (const c of candidates) rows.push([`  ${c.name}`, c.method, c.family, String(c.imgsz), (c.flops / 1e9).toFixed(2), String(c.parameters), `${(c.sizeBytes / 1e6).toFixed(1)} MB`, accuracyText(c) + (c.source ? ` (${c.source})` : '')]);
    process.stdout.write(table(rows));
  }
}

/** A folder the controller will read on this machine: a typo should fail now, not as a ladder job later. */
function folderFlag(command: string, name: string, value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const dir = path.resolve(value);
  let isDir = false;
  try {
    isDir = statSync(dir).isDirectory();
  } catch {
    // missing: said below
  }
  if (!isDir) throw new EdgefitError('E_DATASET', { reason: `${command}: --${name} ${value} is not a folder` });
  return dir;
}

/**
 * `edgefit models add FILE [--calib DIR] [--eval DIR] [--ladder default] [--sizes 640,512]`: returns once the ladder
 * job is queued; with --wait once it ended, with status 1 when it failed.
 */
export async function add(argv: string[]): Promise<number> {
  const { values, positionals } = parse('models add', argv, { ...common, calib: { type: 'string' }, eval: { type: 'string' }, ladder: { type: 'string' }, sizes: { type: 'string' }, name: { type: 'string' }, wait: { type: 'boolean' }, class: { type: 'string' } });
  if (positionals.length !== 1) throw new UsageError('models add: give exactly one ONNX FILE');
  const file = positionals[0];
  const name = values.name ?? path.basename(file).replace(/\.onnx$/i, '').replace(/[^A-Za-z0-9_.+-]/g, '-');
  const ladder = choiceFlag('models add', 'ladder', values.ladder, LADDER_NAMES, 'default');
  const q = new URLSearchParams({ name, ladder });
  if (values.class !== undefined) {
    if (ladder !== 'searched') throw new UsageError('models add: --class is for --ladder searched (the search runs on that class\'s latency predictor)');
    if (!values.class) throw new UsageError('models add: --class: give a device class');
    q.set('class', values.class);
  }
  if (values.sizes) {
    try {
      q.set('sizes', parseLadderSizes(values.sizes).join(','));
    } catch (err) {
      throw new UsageError(`models add: --sizes: ${(err as Error).message}`);
    }
  }
  const calib = folderFlag('models add', 'calib', values.calib);
  const evalDir = folderFlag('models add', 'eval', values.eval);
  if (calib) q.set('calib', calib);
  if (evalDir) q.set('eval', evalDir);
  const bytes = readUpload('models add', file);
  const api = ApiClient.fromFlags('models add', values.controller, values.data);
  let result = await upload<{ model: ModelSummary; job: LadderJob }>(api, `/api/models?${q}`, bytes);
  // A default ladder with calibration images takes minutes per pruned candidate: say what it is doing.
  let said = '';
  while (values.wait && (result.job.state === 'queued' || result.job.state === 'running')) {
    await new Promise((r) => setTimeout(r, 1000));
    result = { ...result, job: await api.request<LadderJob>('GET', `/api/ladder-jobs/${result.job.id}`) };
    const { state, done, total, message } = result.job;
    const progress = state === 'running' ? `ladder ${done}/${total}${message ? `: ${message}` : ''}` : '';
    if (progress && progress !== said) process.stderr.write(`${progress}\n`);
    said = progress || said;
  }
  // a script waiting on the ladder must see it fail in the status, not only in the text
  const failed = result.job.state === 'failed';
  if (values.json) printJson(result);
  else {
    const { id, state, error } = result.job;
    const next = state === 'done' ? "'edgefit models' lists its candidates" : state === 'failed' ? `${error ?? 'no reason given'}` : "follow it with 'edgefit models'";
    process.stdout.write(`model ${result.model.id} (${result.model.name})${result.model.synthetic ? ' — SYNTHETIC weights: latency only, no accuracy' : ''}\nladder job ${id}: ${state}; ${next}\n`);
  }
  if (failed && values.json) process.stderr.write(`edgefit models add: ladder job ${result.job.id} failed: ${result.job.error ?? 'no reason given'}\n`);
  return failed ? 1 : 0;
}
