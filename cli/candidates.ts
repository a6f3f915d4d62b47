import type { Candidate } from '../controller/catalog/catalog.js';
import { UsageError, numberFlag, parse, printJson, requireFlag } from './args.js';
import { ApiClient } from './api-client.js';
import { accuracyText, readUpload, upload } from './models.js';

/** `edgefit candidates import FILE --model ID --method NAME --declared-map50-95 X [--source TEXT] [--name N]` */
export async function run(argv: string[]): Promise<void> {
  const { values, positionals } = parse('candidates import', argv, {
    model: { type: 'string' },
    method: { type: 'string' },
    'declared-map50-95': { type: 'string' },
    source: { type: 'string' },
    name: { type: 'string' },
    json: { type: 'boolean' },
    controller: { type: 'string' },
    data: { type: 'string' },
  });
  if (positionals.length !== 1) throw new UsageError('candidates import: give exactly one ONNX FILE');
  // flags and the file first: a mistake is a usage error whether or not the controller answers
  const declared = numberFlag('candidates import', 'declared-map50-95', requireFlag('candidates import', 'declared-map50-95', values['declared-map50-95']), 0, 0, 1);
  const method = requireFlag('candidates import', 'method', values.method);
  const bytes = readUpload('candidates import', positionals[0]);
  const api = ApiClient.fromFlags('candidates import', values.controller, values.data);
  let modelId = values.model;
  if (!modelId) {
    const { models } = await api.request<{ models: Array<{ id: string }> }>('GET', '/api/models');
    if (models.length !== 1) throw new UsageError(`candidates import: --model ID is required when the catalog holds ${models.length} models`);
    modelId = models[0].id;
  }
  const q = new URLSearchParams({ method, declaredMap5095: String(declared) });
  if (values.source) q.set('source', values.source);
  if (values.name) q.set('name', values.name);
  const c = await upload<Candidate>(api, `/api/models/${encodeURIComponent(modelId)}/candidates?${q}`, bytes);
  if (values.json) return printJson(c);
  process.stdout.write(`candidate ${c.id}: ${c.family} ${c.imgsz}px, ${(c.flops / 1e9).toFixed(2)} GFLOPs, accuracy ${accuracyText(c)}\n`);
}
