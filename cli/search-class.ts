// The latency predictor of a device class for `edgefit search --class`: the
// controller's operator profiles of that class, provider and thread count
// (GET /api/op-profiles?full=1), each with the node shapes of the candidate
// file it profiled. The API serves candidate files to devices only, so the
// files are read from the controller's data folder (--data, where its
// artifact store keeps them by sha256): --class runs where the controller's
// data folder is. A remote controller needs an admin download route (follow-up).
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { nodeShapes } from '../compress/latency/features.js';
import { fitPredictor, type LatencyPredictor, type TrainingProfile } from '../compress/latency/predict.js';
import { readModel } from '../compress/onnx/read.js';
import type { OpProfileReport } from '../protocol/messages.js';
import type { ApiClient } from './api-client.js';
import { DEFAULT_DATA_DIR } from './api-client.js';
import { SearchError } from '../compress/search/run.js';

/** Fewest profiled candidates a class predictor is fitted on: the whole-model line needs three points. */
export const MIN_CLASS_PROFILES = 3;

interface Row {
  artifactSha256: string;
  threads: number | null;
  modelMs: number;
  opProfile?: OpProfileReport;
}

export async function classPredictor(api: ApiClient, deviceClass: string, provider: string, threads: number, dataDir: string | undefined): Promise<LatencyPredictor> {
  dataDir ??= DEFAULT_DATA_DIR;
  const { opProfiles } = await api.request<{ opProfiles: Row[] }>('GET', `/api/op-profiles?class=${deviceClass}&ep=${encodeURIComponent(provider)}&full=1&limit=1000`);
  const rows = opProfiles.filter((r) => r.threads === threads && r.opProfile);
  const others = opProfiles.length - rows.length;
  const training: TrainingProfile[] = [];
  const missing: string[] = [];
  for (const r of rows) {
    const file = path.join(dataDir, 'artifacts', r.artifactSha256);
    if (!existsSync(file)) {
      missing.push(r.artifactSha256.slice(0, 12));
      continue;
    }
    training.push({ shapes: nodeShapes(readModel(readFileSync(file))), nodeUs: new Map(r.opProfile!.nodes.map((n) => [n.node, 1000 * (n.ms + n.absorbedMs)])), measuredMs: r.modelMs });
  }
  if (training.length < MIN_CLASS_PROFILES) {
    const why = [`${rows.length} with ${threads} thread${threads === 1 ? '' : 's'}`, others ? `${others} at other thread counts` : '', missing.length ? `${missing.length} whose file is not in ${path.join(dataDir, 'artifacts')}` : ''].filter(Boolean).join(', ');
    throw new SearchError(`class ${deviceClass} (${provider}) has ${training.length} usable operator profiles (${why}); the latency predictor needs ${MIN_CLASS_PROFILES}: profile more candidates there with an operator profile first`);
  }
  return fitPredictor(training);
}
