// The on-device check at the controller's edge: frames for the jobs going
// out, and a verdict for each result coming back with a check report.
import type { Logger } from 'pino';
import type { CheckRequest, Detection, Result } from '../../protocol/messages.js';
import { refKind } from '../../protocol/artifacts.js';
import type { Catalog } from '../catalog/catalog.js';
import { chooseFrames, type FrameChoice } from './frames.js';
import { computeReference, type ReferenceFrame } from './reference.js';
import { checkVerdict, DEFAULT_CHECK_THRESHOLD, type CheckVerdict } from './verdict.js';

/** What is kept with a profile: the verdict, the bar it was judged by, and what the check cost. */
export interface CheckRecord extends CheckVerdict {
  threshold: number;
  frames: number;
  /** Wall time on the device (decode, letterbox, run, NMS for every frame), as it reported. */
  deviceMs: number;
  /** Wall time of the controller's reference (candidate and, when not cached, base model on CPU). */
  controllerMs: number;
}

export interface CheckerDeps {
  catalog: Catalog;
  /** The bar of the rollout a job belongs to (its spec's check.threshold), if any. */
  thresholdOf(jobId: string): number | undefined;
  log: Logger;
}

const round2 = (x: number) => Math.round(x * 100) / 100;
/** Base-model boxes per (base, frame): 4 frames of a few models, a few hundred boxes each. */
const BASE_CACHE_MAX = 256;

export class OnDeviceCheck {
  private readonly frames = new Map<string, Promise<FrameChoice>>();
  private readonly baseCache = new Map<string, Detection[]>();
  /** One comparison at a time: each loads two models, and results of many classes can arrive together. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly deps: CheckerDeps) {}

  private choice(modelId: string): Promise<FrameChoice> {
    let c = this.frames.get(modelId);
    if (!c) {
      c = chooseFrames(this.deps.catalog, modelId);
      // a failure is not remembered: the next job tries again
      c.catch(() => this.frames.delete(modelId));
      this.frames.set(modelId, c);
    }
    return c;
  }

  /** The check a profile job of this model's candidates carries; undefined when the model has no frames. */
  async request(modelId: string): Promise<CheckRequest | undefined> {
    try {
      const { refs, source } = await this.choice(modelId);
      if (refs.length === 0) {
        this.deps.log.debug({ model: modelId, why: source }, 'profile jobs carry no on-device check');
        return undefined;
      }
      return { frames: refs };
    } catch (err) {
      this.deps.log.warn({ model: modelId, err: (err as Error).message }, 'no on-device check frames');
      return undefined;
    }
  }

  /**
   * The verdict on a result's check report, or undefined when it has none. A
   * comparison the controller cannot make (a file gone from the store) is no
   * evidence against the candidate: it passes, and says it was not compared.
   */
  judge(result: Result): Promise<CheckRecord | undefined> {
    const run = this.queue.then(() => this.judgeNow(result));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /**
   * The frames to judge a report on: the model's frames as chosen now, which
   * the device must answer for every one of; or, when that choice changed
   * since the job went out (the eval folder was edited, the ladder rebuilt,
   * and a restarted controller resent the job), the frames the report names,
   * each of which must be a frame artifact this controller signed.
   */
  private async framesOf(modelId: string, answered: ReadonlyArray<{ sha256: string }>): Promise<ReferenceFrame[]> {
    const { artifacts } = this.deps.catalog;
    const { refs } = await this.choice(modelId);
    const chosen = new Set(refs.map((r) => r.sha256));
    const shipped = answered.length > 0 && answered.every((f) => !chosen.has(f.sha256)) ? answered : refs;
    return shipped.map((f) => {
      const stored = artifacts.get(f.sha256);
      const file = artifacts.pathOf(f.sha256);
      if (!stored || refKind(stored.ref) !== 'frame' || !file) throw new Error(`reference frame ${f.sha256.slice(0, 12)} is not a frame in the artifact store`);
      return { sha256: f.sha256, path: file };
    });
  }

  private async judgeNow(result: Result): Promise<CheckRecord | undefined> {
    const report = result.ok ? result.profile?.check : undefined;
    if (!report) return undefined;
    const threshold = this.deps.thresholdOf(result.jobId) ?? DEFAULT_CHECK_THRESHOLD;
    const t0 = performance.now();
    const base = { threshold, frames: report.frames.length, deviceMs: report.ms };
    try {
      const { catalog } = this.deps;
      const candidate = result.candidateId ? catalog.getCandidate(result.candidateId) : undefined;
      if (!candidate) throw new Error(`candidate ${result.candidateId ?? '(none named)'} is not in the catalog`);
      const model = catalog.getModel(candidate.modelId)!;
      const candidateFile = catalog.artifacts.pathOf(result.artifactSha256);
      const baseFile = catalog.artifacts.pathOf(model.sha256);
      if (!candidateFile || !baseFile) throw new Error('the candidate or base model file is gone from the artifact store');
      const frames = await this.framesOf(model.id, report.frames);
      if (this.baseCache.size > BASE_CACHE_MAX) this.baseCache.clear();
      const reference = await computeReference(candidateFile, { sha256: model.sha256, file: baseFile }, frames, this.baseCache);
      const verdict = checkVerdict(report, reference, { threshold });
      return { ...verdict, ...base, frames: frames.length, controllerMs: round2(performance.now() - t0) };
    } catch (err) {
      return { fidelity: null, ok: true, reason: `on-device check not compared: ${(err as Error).message}`, ...base, controllerMs: round2(performance.now() - t0) };
    }
  }
}
