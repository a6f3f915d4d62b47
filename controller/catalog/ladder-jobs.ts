import { fork } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { CatalogError, type Catalog, type LadderJob, type LadderJobOptions } from './catalog.js';
import { ladderRecipes, type GeneratedCandidate, type SkippedRecipe } from './ladder.js';
import { LADDER_NAMES, type LadderName } from './ladder-options.js';
import type { LatencyPredictor } from '../../compress/latency/predict.js';
import { DEFAULT_SEARCH, predictorToJson, searchSizes, type SearchSettings } from './searched-ladder.js';
import { modelInputSize } from '../../compress/calibration.js';
import { readModel } from '../../compress/onnx/read.js';

// Next to this module when built; from the sources (tests), the built copy under dist/.
const BESIDE = fileURLToPath(new URL('./ladder-worker.js', import.meta.url));
const WORKER = existsSync(BESIDE) ? BESIDE : fileURLToPath(new URL('../../dist/controller/catalog/ladder-worker.js', import.meta.url));

type WorkerMessage =
  | { type: 'progress'; done: number; total: number; message: string }
  | { type: 'result'; candidates: GeneratedCandidate[]; skipped: SkippedRecipe[] }
  | { type: 'error'; message: string };

/**
 * Builds ladders off the request path: one child process per job, one job at
 * a time (compression is CPU-bound), progress persisted in ladder_jobs. Jobs a
 * controller restart interrupted are run again.
 */
export class LadderJobs {
  private chain: Promise<void> = Promise.resolve();
  private readonly listeners = new Set<(job: LadderJob) => void>();

  constructor(
    private readonly catalog: Catalog,
    private readonly workDir: string,
    private readonly log: Logger,
    /** A device class's fitted latency predictor on cpu at a thread count (latency-predictions.ts), for searched ladders. */
    private readonly predictorOf?: (deviceClass: string, threads: number) => Promise<LatencyPredictor | undefined>,
  ) {
    for (const job of catalog.jobs()) if (job.state === 'queued' || job.state === 'running') this.enqueue(job.id);
  }

  start(modelId: string, options: LadderJobOptions): LadderJob {
    if (!(LADDER_NAMES as readonly string[]).includes(options.ladder)) throw new CatalogError(`unknown ladder '${options.ladder}' (known: ${LADDER_NAMES.join(', ')})`, 'invalid');
    if (options.deviceClass !== undefined && options.ladder !== 'searched') throw new CatalogError(`a device class is for a searched ladder only (got ladder '${options.ladder}')`, 'invalid');
    const recipes = this.recipesOf(modelId, options);
    const job = this.catalog.createJob(modelId, options, recipes.length);
    this.enqueue(job.id);
    return job;
  }

  /** Resolves when the job is done or failed. */
  async wait(id: string): Promise<LadderJob> {
    for (;;) {
      const job = this.catalog.getJob(id);
      if (!job) throw new CatalogError(`no ladder job '${id}'`, 'not-found');
      if (job.state === 'done' || job.state === 'failed') return job;
      await new Promise<void>((resolve) => {
        const off = this.onChange((j) => {
          if (j.id === id) {
            off();
            resolve();
          }
        });
      });
    }
  }

  /** Structural recipes join the ladder only for a real model with calibration images. */
  private recipesOf(modelId: string, options: LadderJobOptions) {
    const synthetic = this.catalog.requireModel(modelId).synthetic;
    return ladderRecipes(options.ladder as LadderName, options.sizes, { calibrated: Boolean(options.calibDir) && !synthetic });
  }

  onChange(listener: (job: LadderJob) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Stops the running build (it stays 'running' and runs again at the next start); nothing new starts. */
  async close(): Promise<void> {
    this.closed = true;
    this.child?.kill('SIGKILL');
    await this.chain;
  }

  private closed = false;
  private child?: ReturnType<typeof fork>;

  private enqueue(id: string): void {
    this.chain = this.chain.then(() => (this.closed ? undefined : this.run(id)));
  }

  private update(id: string, patch: Parameters<Catalog['updateJob']>[1]): void {
    this.catalog.updateJob(id, patch);
    const job = this.catalog.getJob(id);
    if (job) for (const l of this.listeners) l(job);
  }

  private async run(id: string): Promise<void> {
    const job = this.catalog.getJob(id);
    if (!job) return;
    const model = this.catalog.getModel(job.modelId);
    const baseFile = model && this.catalog.artifacts.pathOf(model.sha256);
    if (!model || !baseFile) return this.update(id, { state: 'failed', error: 'the base model file is gone from the artifact store' });
    const recipes = this.recipesOf(model.id, job.options);
    const outDir = path.join(this.workDir, id);
    this.update(id, { state: 'running', done: 0, total: recipes.length, message: 'starting' });
    this.log.info({ job: id, model: model.id, recipes: recipes.length }, 'building ladder');
    try {
      const search = job.options.ladder === 'searched' ? await this.searchSettings(id, baseFile, job.options.sizes, job.options.deviceClass) : undefined;
      const result = await this.spawn(id, { baseFile, baseSha256: model.sha256, synthetic: model.synthetic, recipes, outDir, calibDir: job.options.calibDir, evalDir: job.options.evalDir, ...(search ? { search } : {}) });
      for (const g of result.candidates) await this.catalog.addGenerated(model.id, g);
      const note = result.skipped.map((s) => `${s.name}: ${s.reason}`).join('; ');
      this.update(id, { state: 'done', done: recipes.length, message: `${result.candidates.length} candidate(s)${note ? `; skipped ${note}` : ''}` });
      this.log.info({ job: id, candidates: result.candidates.length, skipped: result.skipped.length }, 'ladder built');
      rmSync(this.statePath(id), { force: true });
    } catch (err) {
      if (this.closed) return;
      this.update(id, { state: 'failed', error: (err as Error).message });
      this.log.error({ job: id, err: (err as Error).message }, 'ladder failed');
    } finally {
      rmSync(outDir, { recursive: true, force: true });
    }
  }

  /** Where a searched ladder's search keeps its state: outside the job's scratch folder, so a controller restart resumes it. */
  private statePath(id: string): string {
    return path.join(this.workDir, `${id}.search-state.json`);
  }

  /** The search of a searched ladder: on the class's predictor when the job names one (one thread, the setting the class's op profiles are fitted at by default). */
  private async searchSettings(id: string, baseFile: string, sizes: number[] | undefined, deviceClass: string | undefined): Promise<SearchSettings> {
    const settings: SearchSettings = { ...DEFAULT_SEARCH, sizes: sizes ?? searchSizes(modelInputSize(readModel(readFileSync(baseFile)))), statePath: this.statePath(id) };
    if (deviceClass === undefined) return settings;
    const predictor = await this.predictorOf?.(deviceClass, settings.threads);
    if (!predictor) throw new Error(`class ${deviceClass} has no latency predictor on cpu at ${settings.threads} thread(s): it needs at least 3 operator profiles (a rollout with profile.opProfile and profile.threads ${settings.threads})`);
    return { ...settings, deviceClass, predictor: predictorToJson(predictor) };
  }

  private spawn(id: string, request: unknown): Promise<{ candidates: GeneratedCandidate[]; skipped: SkippedRecipe[] }> {
    return new Promise((resolve, reject) => {
      const child = fork(WORKER, [], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'], execArgv: [] });
      this.child = child;
      let stderr = '';
      let settled = false;
      child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
      child.on('message', (m: WorkerMessage) => {
        if (m.type === 'progress') this.update(id, { done: m.done, total: m.total, message: m.message });
        else if (m.type === 'result') {
          settled = true;
          resolve(m);
        } else {
          settled = true;
          reject(new Error(m.message));
        }
      });
      child.once('exit', (code, signal) => {
        if (!settled) reject(new Error(`ladder worker ended (${signal ?? `code ${code}`}) without a result${stderr ? `: ${stderr.trim().split('\n').slice(-3).join(' | ')}` : ''}`));
      });
      child.send(request as object);
    });
  }
}
