// The model catalog in SQLite: base models, their candidates (the ladder) and
// the jobs that build ladders. Files live in the artifact store; rows here
// carry what the planner and the policy read (cost, precision, accuracy).
import { randomBytes } from 'node:crypto';
import { modelInputSize } from '../../compress/calibration.js';
import { modelCost } from '../../compress/cost.js';
import { readLineage } from '../../compress/lineage.js';
import { weightFormat } from '../../compress/onnx/info.js';
import { modelInputIssue } from '../../compress/onnx/detector-input.js';
import type { Model } from '../../compress/onnx/ir.js';
import { ModelFormatError, readModel } from '../../compress/onnx/read.js';
import type { ArtifactStore } from '../artifacts/store.js';
import type { Db } from '../db.js';
import type { Accuracy, LadderCandidate } from '../policy.js';
import { familyOf, type GeneratedCandidate, type Recipe } from './ladder.js';
import { EdgefitError } from '../../protocol/errors.js';

const CATALOG_CODES = { invalid: 'E_CATALOG_INVALID', 'not-found': 'E_CATALOG_UNKNOWN', exists: 'E_CATALOG_EXISTS' } as const;

/** A catalog request that cannot be served; its kind picks the catalogue code (and so the HTTP status). */
export class CatalogError extends EdgefitError<(typeof CATALOG_CODES)[keyof typeof CATALOG_CODES]> {
  override name = 'CatalogError';
  constructor(
    message: string,
    readonly kind: keyof typeof CATALOG_CODES,
  ) {
    super(CATALOG_CODES[kind], { reason: message });
  }
}

export interface BaseModel {
  id: string;
  name: string;
  sha256: string;
  synthetic: boolean;
  imgsz: number;
  parameters: number;
  flops: number;
  format: string;
  createdAt: number;
}

export interface Candidate extends LadderCandidate {
  modelId: string;
  method: string;
  recipe: Recipe | null;
  sha256: string;
  parameters: number;
  synthetic: boolean;
  /** Where a declared figure comes from (paper, model card...). */
  source: string | null;
  createdAt: number;
}

export type LadderJobState = 'queued' | 'running' | 'done' | 'failed';

export interface LadderJob {
  id: string;
  modelId: string;
  state: LadderJobState;
  options: LadderJobOptions;
  done: number;
  total: number;
  message: string | null;
  error: string | null;
  createdAt: number;
  updatedAt: number;
}

export interface LadderJobOptions {
  ladder: string;
  sizes?: number[];
  calibDir?: string;
  evalDir?: string;
  /** A searched ladder on this device class's latency predictor (its op profiles); absent: searched for the controller's machine. */
  deviceClass?: string;
}

interface ModelRow {
  id: string;
  name: string;
  sha256: string;
  synthetic: number;
  info: string;
  created_at: number;
}

interface CandidateRow {
  id: string;
  model_id: string;
  name: string;
  method: string;
  recipe: string;
  family: string;
  imgsz: number;
  sha256: string;
  size_bytes: number;
  parameters: number;
  flops: number;
  accuracy: string;
  source: string | null;
  created_at: number;
}

interface JobRow {
  id: string;
  model_id: string;
  state: LadderJobState;
  options: string;
  done: number;
  total: number;
  message: string | null;
  error: string | null;
  created_at: number;
  updated_at: number;
}

const MAX_MODEL_BYTES = 2 * 1024 ** 3;
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}$/;

function toModel(r: ModelRow): BaseModel {
  const info = JSON.parse(r.info) as Pick<BaseModel, 'imgsz' | 'parameters' | 'flops' | 'format'>;
  return { id: r.id, name: r.name, sha256: r.sha256, synthetic: r.synthetic === 1, ...info, createdAt: r.created_at };
}

function toJob(r: JobRow): LadderJob {
  return { id: r.id, modelId: r.model_id, state: r.state, options: JSON.parse(r.options) as LadderJobOptions, done: r.done, total: r.total, message: r.message, error: r.error, createdAt: r.created_at, updatedAt: r.updated_at };
}

/** Parses ONNX bytes for the catalog; a file that is not a readable model is a clear 400, not a crash. */
export function parseModelBytes(bytes: Uint8Array, what: string): Model {
  try {
    return readModel(bytes);
  } catch (err) {
    throw new CatalogError(`${what} is not a readable ONNX model: ${err instanceof ModelFormatError ? err.message : (err as Error).message}`, 'invalid');
  }
}

function describe(model: Model, what: string): { imgsz: number; parameters: number; flops: number; format: string } {
  // what no device could run never enters the catalog (the rule detect, profile and agents apply)
  const inputIssue = modelInputIssue(model);
  if (inputIssue) throw new CatalogError(`${what} cannot run as a detector: ${inputIssue}`, 'invalid');
  let imgsz: number;
  try {
    imgsz = modelInputSize(model);
  } catch (err) {
    throw new CatalogError(`${what}: ${(err as Error).message}`, 'invalid');
  }
  if (!Number.isInteger(imgsz) || imgsz < 1) throw new CatalogError(`${what}: input size ${imgsz} is not a positive number of pixels`, 'invalid');
  let cost: ReturnType<typeof modelCost>;
  try {
    cost = modelCost(model);
  } catch (err) {
    throw new CatalogError(`${what}: cannot compute its cost: ${(err as Error).message}`, 'invalid');
  }
  // The planner orders the ladder by FLOPs: a NaN (a conv with stride 0...) would break every comparison.
  if (!Number.isFinite(cost.flops) || cost.flops < 0 || !Number.isFinite(cost.parameters)) {
    throw new CatalogError(`${what}: its cost is not a finite number (FLOPs ${cost.flops}); check the graph's attributes (a zero stride or dilation?)`, 'invalid');
  }
  return { imgsz, parameters: cost.parameters, flops: cost.flops, format: weightFormat(model) };
}

export class Catalog {
  constructor(
    private readonly db: Db,
    readonly artifacts: ArtifactStore,
  ) {}

  /** Stores a base model (idempotent by content) and returns it. */
  async addModel(bytes: Uint8Array, name: string): Promise<BaseModel> {
    if (!NAME.test(name)) throw new CatalogError(`model name '${name}': use 1-64 letters, digits, '.', '_', '+' or '-'`, 'invalid');
    if (bytes.byteLength > MAX_MODEL_BYTES) throw new CatalogError('model is larger than 2 GiB', 'invalid');
    const model = parseModelBytes(bytes, 'the model');
    const info = describe(model, 'the model');
    const synthetic = model.metadata.get('edgefit.synthetic') === 'true';
    const ref = await this.artifacts.put(bytes, { name: `${name}.onnx`, lineage: { role: 'base', synthetic } });
    const id = `m-${ref.sha256.slice(0, 12)}`;
    const existing = this.getModel(id);
    if (existing) return existing;
    this.db.prepare('INSERT INTO models (id, name, sha256, synthetic, info, created_at) VALUES (?, ?, ?, ?, ?, ?)').run(id, name, ref.sha256, synthetic ? 1 : 0, JSON.stringify(info), Date.now());
    return this.getModel(id)!;
  }

  getModel(id: string): BaseModel | undefined {
    const row = this.db.prepare('SELECT * FROM models WHERE id = ?').get(id) as ModelRow | undefined;
    return row && toModel(row);
  }

  /** By id, or by name (the newest model of that name), so a spec can say `model: yolov8n-synthetic`. */
  requireModel(idOrName: string): BaseModel {
    const byName = () => this.db.prepare('SELECT * FROM models WHERE name = ? ORDER BY created_at DESC LIMIT 1').get(idOrName) as ModelRow | undefined;
    const model = this.getModel(idOrName) ?? (byName() && toModel(byName()!));
    if (!model) throw new CatalogError(`no model '${idOrName}' (see 'edgefit models')`, 'not-found');
    return model;
  }

  listModels(): BaseModel[] {
    return (this.db.prepare('SELECT * FROM models ORDER BY created_at, id').all() as ModelRow[]).map(toModel);
  }

  /** The ladder of a model, ordered by FLOPs. */
  candidates(modelIdOrName: string): Candidate[] {
    const model = this.requireModel(modelIdOrName);
    const rows = this.db.prepare('SELECT * FROM candidates WHERE model_id = ? ORDER BY flops, name').all(model.id) as CandidateRow[];
    return rows.map((r) => ({
      id: r.id,
      name: r.name,
      modelId: r.model_id,
      method: r.method,
      recipe: JSON.parse(r.recipe) as Recipe | null,
      family: r.family,
      imgsz: r.imgsz,
      sha256: r.sha256,
      sizeBytes: r.size_bytes,
      parameters: r.parameters,
      flops: r.flops,
      accuracy: JSON.parse(r.accuracy) as Accuracy,
      synthetic: model.synthetic,
      source: r.source,
      createdAt: r.created_at,
    }));
  }

  getCandidate(id: string): Candidate | undefined {
    const row = this.db.prepare('SELECT model_id FROM candidates WHERE id = ?').get(id) as { model_id: string } | undefined;
    return row && this.candidates(row.model_id).find((c) => c.id === id);
  }

  /** Files a generated candidate into the artifact store and the ladder (replacing one of the same name). */
  async addGenerated(modelId: string, g: GeneratedCandidate): Promise<Candidate> {
    const model = this.requireModel(modelId);
    const ref = await this.artifacts.put(g.file, { name: `${model.name}-${g.name}.onnx`, lineage: { model: modelId, recipe: g.name, synthetic: model.synthetic, ...(g.lineage ? { steps: g.lineage.steps.map((s) => ({ method: s.method, params: s.params })) } : {}) } });
    const accuracy: Accuracy = model.synthetic ? { value: null, kind: 'none-synthetic' } : g.accuracy;
    return this.insert(modelId, { name: g.name, method: g.method, recipe: g.recipe, family: g.family, imgsz: g.imgsz, sha256: ref.sha256, sizeBytes: ref.size, parameters: g.parameters, flops: g.flops, accuracy, source: null });
  }

  /**
   * An imported candidate (made elsewhere, e.g. by training-based methods):
   * its accuracy is the declared figure and is always shown as declared.
   */
  async importCandidate(modelId: string, bytes: Uint8Array, o: { method: string; declaredMap5095: number; source?: string; name?: string }): Promise<Candidate> {
    const model = this.requireModel(modelId);
    if (!NAME.test(o.method)) throw new CatalogError(`method '${o.method}': use 1-64 letters, digits, '.', '_', '+' or '-'`, 'invalid');
    if (!(o.declaredMap5095 >= 0 && o.declaredMap5095 <= 1)) throw new CatalogError(`declared mAP50-95 must be in [0, 1], got ${o.declaredMap5095}`, 'invalid');
    const parsed = parseModelBytes(bytes, 'the candidate');
    const info = describe(parsed, 'the candidate');
    const name = o.name ?? `import-${o.method}`;
    if (!NAME.test(name)) throw new CatalogError(`candidate name '${name}' is not valid`, 'invalid');
    const ref = await this.artifacts.put(bytes, { name: `${model.name}-${name}.onnx`, lineage: { model: modelId, imported: true, method: o.method, ...(readLineage(parsed) ? { lineage: readLineage(parsed) } : {}) } });
    return this.insert(modelId, { name, method: o.method, recipe: null, family: familyOf(parsed), imgsz: info.imgsz, sha256: ref.sha256, sizeBytes: ref.size, parameters: info.parameters, flops: info.flops, accuracy: { value: o.declaredMap5095, kind: 'declared' }, source: o.source ?? null });
  }

  private insert(modelId: string, c: Omit<Candidate, 'id' | 'modelId' | 'synthetic' | 'createdAt'>): Candidate {
    const id = `${modelId}.${c.name}`;
    this.db
      .prepare(
        `INSERT INTO candidates (id, model_id, name, method, recipe, family, imgsz, sha256, size_bytes, parameters, flops, accuracy, source, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT(id) DO UPDATE SET method = excluded.method, recipe = excluded.recipe, family = excluded.family, imgsz = excluded.imgsz, sha256 = excluded.sha256,
           size_bytes = excluded.size_bytes, parameters = excluded.parameters, flops = excluded.flops, accuracy = excluded.accuracy, source = excluded.source`,
      )
      .run(id, modelId, c.name, c.method, JSON.stringify(c.recipe), c.family, c.imgsz, c.sha256, c.sizeBytes, c.parameters, c.flops, JSON.stringify(c.accuracy), c.source, Date.now());
    return this.getCandidate(id)!;
  }

  createJob(modelId: string, options: LadderJobOptions, total: number): LadderJob {
    this.requireModel(modelId);
    const id = `ladder-${randomBytes(6).toString('hex')}`;
    const now = Date.now();
    this.db.prepare('INSERT INTO ladder_jobs (id, model_id, state, options, total, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)').run(id, modelId, 'queued', JSON.stringify(options), total, now, now);
    return this.getJob(id)!;
  }

  updateJob(id: string, patch: Partial<Pick<LadderJob, 'state' | 'done' | 'total' | 'message' | 'error'>>): void {
    const job = this.getJob(id);
    if (!job) return;
    const next = { ...job, ...patch };
    this.db.prepare('UPDATE ladder_jobs SET state = ?, done = ?, total = ?, message = ?, error = ?, updated_at = ? WHERE id = ?').run(next.state, next.done, next.total, next.message, next.error, Date.now(), id);
  }

  getJob(id: string): LadderJob | undefined {
    const row = this.db.prepare('SELECT * FROM ladder_jobs WHERE id = ?').get(id) as JobRow | undefined;
    return row && toJob(row);
  }

  jobs(modelId?: string): LadderJob[] {
    const rows = (modelId ? this.db.prepare('SELECT * FROM ladder_jobs WHERE model_id = ? ORDER BY created_at').all(modelId) : this.db.prepare('SELECT * FROM ladder_jobs ORDER BY created_at').all()) as JobRow[];
    return rows.map(toJob);
  }
}
