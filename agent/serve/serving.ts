import { readFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import { readModel } from '../../compress/onnx/read.js';
import type { Desired, Reported, Slo, Telemetry } from '../../protocol/messages.js';
import { decodeFor } from '../../protocol/channels.js';
import { PROTOCOL_VERSION } from '../../protocol/topics.js';
import type { ArtifactSource } from '../jobs/model-source.js';
import { missingProviderReason } from '../onnxruntime/providers.js';
import { refKind } from '../../protocol/artifacts.js';
import type { FrameSource } from './frames.js';
import { evaluateSlo } from './health.js';
import type { MeasurementLock } from './lock.js';
import { SourceSlot, type SourceFactory } from './source-slot.js';
import { ServerActivation, type Activation, type Running } from './activation.js';
import type { DetectionsBus } from '../outputs/bus.js';

export interface ServingOptions {
  artifacts: ArtifactSource;
  /** Frames that do not depend on the model (the built-in scenes); ignored when `source` is given. */
  frames: FrameSource;
  /** The agent's --source, opened at each active model's input size (see SourceSlot). */
  source?: { name: string; open: SourceFactory };
  lock: MeasurementLock;
  publishReported: (reported: Reported) => void;
  publishTelemetry: (telemetry: Telemetry) => void;
  log: Logger;
  /** How long a new model must serve without errors before it is healthy. */
  healthWindowS?: number;
  /** Fewest frames per second a model must sustain through its health check, where its desired state's SLO sets no minFps. */
  healthMinFps?: number;
  /** Threads for a desired state that names none (the agent's --threads). */
  defaultThreads?: number;
  /** The execution providers this device offers (its inventory's); default cpu only. */
  providers?: readonly string[];
  /** The agent's state folder: TensorRT keeps its engines there, per model. */
  stateDir?: string;
  /** What activating a model means; default: the agent serves it (ServerActivation on `frames` or `source`). */
  activation?: Activation;
  /** Each served frame's detections go here (agent/outputs): files, MQTT, snapshots, SSE. */
  detections?: DetectionsBus;
}

interface Active {
  running: Running;
  desired: Desired;
  modelPath: string;
}

const SLO_WINDOW_MS = 10_000;
const v = PROTOCOL_VERSION as typeof PROTOCOL_VERSION;

/** Same provider and options: a model already serving that way needs no reload. */
function sameProvider(a: Desired, b: Desired): boolean {
  return (a.ep ?? 'cpu') === (b.ep ?? 'cpu') && JSON.stringify(a.providerOptions ?? {}) === JSON.stringify(b.providerOptions ?? {});
}

/**
 * Serves what the retained desired state names: fetch, verify, activate,
 * health-check, then healthy; a model that fails any step gives way to the
 * previous one (rolled-back). Reports its progress as retained `reported`
 * state and publishes telemetry every second while a model serves.
 */
export class Serving {
  private active: Active | null = null;
  private reported: Reported = { v, ts: Date.now(), generation: 0, state: 'idle', activeModel: null, slo: null };
  private next: Desired | null = null;
  /** Until it is reported, only this says which generation is being applied: a stale message is judged against it too. */
  private applying: Desired | null = null;
  private working = false;
  /** Ends the wait for the model of the state being applied (see unlessSuperseded). */
  private supersede: (() => void) | null = null;
  private telemetryTimer?: NodeJS.Timeout;
  private closed = false;
  private readonly activation: Activation;
  /** The drop total the previous telemetry carried. */
  private droppedBefore: number | null = null;

  constructor(private readonly opts: ServingOptions) {
    const slot = opts.source && !opts.activation ? new SourceSlot(opts.source.open, opts.source.name, opts.log.child({ component: 'source' })) : null;
    this.activation = opts.activation ?? new ServerActivation({ frames: opts.frames, slot, lock: opts.lock, stateDir: opts.stateDir, log: opts.log, ...(opts.detections ? { detections: opts.detections } : {}) });
    this.telemetryTimer = setInterval(() => void this.tick(), 1000);
  }

  /** The agent serves frames itself now (a profile pauses it); false in hand-off, where the application is not paused. */
  get serving(): boolean {
    return this.active !== null && this.activation.servesFrames;
  }

  /** The latest reported state, for republishing after a reconnect. */
  current(): Reported {
    return this.reported;
  }

  /** Takes a desired-state payload; a malformed one is logged and dropped. Only the newest pending one is applied. */
  submit(payload: Buffer): void {
    if (payload.length === 0) return;
    const msg = decodeFor('desired', payload);
    if (!msg.ok) return this.opts.log.warn({ reason: msg.reason }, 'malformed desired state dropped');
    const desired = { ...msg.value, threads: msg.value.threads ?? this.opts.defaultThreads };
    // Judged against the newest generation known, applied or still waiting: a late older message must not replace a newer pending one.
    const newest = Math.max(this.reported.generation, this.applying?.generation ?? -1, this.next?.generation ?? -1);
    if (desired.generation < newest) {
      return this.opts.log.warn({ generation: desired.generation, current: newest }, 'stale desired state ignored');
    }
    if (desired.generation === this.applying?.generation) return this.opts.publishReported(this.reported);
    if (desired.generation === this.reported.generation && this.reported.state !== 'idle') {
      // The broker re-delivers retained state on every reconnect: same generation, nothing to do but say where we are.
      return this.opts.publishReported(this.reported);
    }
    this.next = desired;
    this.supersede?.();
    if (!this.working) void this.drain();
  }

  /**
   * What `start` resolves to, or undefined once a newer desired state arrives
   * (or the agent stops): neither a slow download nor jobs queued for the
   * measurement lock may hold the state the controller wants now. The signal
   * given to `start` fires then: a download nobody else waits for stops.
   */
  private async unlessSuperseded<T>(start: (signal: AbortSignal) => Promise<T>): Promise<T | undefined> {
    if (this.next || this.closed) return undefined;
    const withdraw = new AbortController();
    const wait = start(withdraw.signal);
    wait.catch(() => undefined);
    try {
      return await Promise.race([
        wait,
        new Promise<undefined>((resolve) => {
          this.supersede = () => {
            // resolved before the signal fires, so the race sees the supersession, not the rejection it causes
            resolve(undefined);
            withdraw.abort();
          };
        }),
      ]);
    } finally {
      this.supersede = null;
    }
  }

  private superseded(desired: Desired, waitingFor: string): void {
    this.opts.log.info({ generation: desired.generation }, this.closed ? `stopped while waiting for ${waitingFor}` : `desired state superseded while waiting for ${waitingFor}`);
  }

  private async drain(): Promise<void> {
    this.working = true;
    try {
      while (this.next && !this.closed) {
        const desired = this.next;
        this.next = null;
        this.applying = desired;
        try {
          await this.apply(desired);
        } catch (err) {
          // apply() reports its expected failures itself; this is the unexpected kind (a frame source gone bad).
          this.report(desired, 'failed', `serving failed: ${(err as Error).message}`);
        }
      }
    } finally {
      this.applying = null;
      this.working = false;
    }
  }

  private report(desired: Desired, state: Reported['state'], error?: string): void {
    const a = this.active;
    this.reported = {
      v,
      ts: Date.now(),
      generation: desired.generation,
      ...(desired.rolloutId ? { rolloutId: desired.rolloutId } : {}),
      state,
      activeModel: a ? { sha256: a.running.sha256, generation: a.desired.generation, ...(a.desired.candidateId ? { candidateId: a.desired.candidateId } : {}), ep: a.desired.ep ?? 'cpu' } : null,
      ...(error ? { error: error.slice(0, 4000) } : {}),
      slo: null,
    };
    this.opts.log.info({ generation: desired.generation, state, error }, 'serving state');
    this.opts.publishReported(this.reported);
  }

  private async apply(desired: Desired): Promise<void> {
    const { artifacts, log } = this.opts;
    if (!desired.model) {
      const stopped = this.active;
      await this.deactivate();
      await this.activation.release();
      if (stopped) artifacts.unpin?.(stopped.running.sha256);
      return this.report(desired, 'idle');
    }
    const ref = desired.model;
    // Checked before any download or stop: the running model, if any, keeps serving.
    const missing = missingProviderReason(desired.ep ?? 'cpu', this.opts.providers ?? ['cpu']);
    if (missing) return this.report(desired, 'failed', missing);
    if (refKind(ref) !== 'model') return this.report(desired, 'failed', `artifact ${ref.sha256} is signed as a ${refKind(ref) ?? 'unknown kind'}, not a model`);
    if (this.active?.running.sha256 === ref.sha256 && this.active.desired.threads === desired.threads && sameProvider(this.active.desired, desired)) {
      this.active.desired = desired;
      return this.report(desired, 'healthy');
    }
    const previous = this.active;
    let modelPath: string;
    try {
      this.report(desired, 'downloading');
      const fetched = await this.unlessSuperseded((signal) => artifacts.ensure(ref, signal));
      if (fetched === undefined) return this.superseded(desired, 'its model');
      modelPath = fetched;
      this.report(desired, 'verifying');
      // Parsing catches a file that is not ONNX at all before any running model is stopped.
      readModel(await readFile(modelPath));
    } catch (err) {
      return this.fail(desired, previous !== null, `fetching the model failed: ${(err as Error).message}`);
    }
    const lockWait = this.opts.lock.acquire('health-check', false);
    const release = await this.unlessSuperseded(() => lockWait);
    if (release === undefined) {
      // a lock granted after the wait was given up goes straight back
      void lockWait.then((r) => r());
      return this.superseded(desired, 'the measurement lock');
    }
    try {
      this.report(desired, 'activating');
      // Prepared before the running model stops: a frame source failing now must not leave the device serving nothing.
      try {
        await this.activation.prepare();
      } catch (err) {
        return this.fail(desired, previous !== null, `no frame to check the model on: ${(err as Error).message}`);
      }
      // One model in memory at a time: small devices cannot hold two.
      await this.deactivate();
      let running: Running;
      try {
        running = await this.activation.start(modelPath, ref.sha256, desired, false);
      } catch (err) {
        return await this.rollBack(desired, previous, `${this.activation.startFailure}: ${(err as Error).message}`);
      }
      artifacts.pin?.(ref.sha256);
      this.active = { running, desired, modelPath };
      this.report(desired, 'health-check');
      const problem = await running.healthCheck(desired, { windowS: this.opts.healthWindowS ?? 3, agentFloorFps: this.opts.healthMinFps });
      if (problem) {
        await this.deactivate();
        artifacts.unpin?.(ref.sha256);
        return await this.rollBack(desired, previous, `health check failed: ${problem}`);
      }
      if (previous) artifacts.unpin?.(previous.running.sha256);
      this.report(desired, 'healthy');
      log.info({ sha256: ref.sha256, generation: desired.generation }, 'model serving');
    } finally {
      release();
    }
  }

  private async rollBack(desired: Desired, previous: Active | null, error: string): Promise<void> {
    if (!previous) return this.fail(desired, false, error);
    try {
      await this.activation.prepare();
      const running = await this.activation.start(previous.modelPath, previous.running.sha256, previous.desired, true);
      this.active = { ...previous, running };
      this.report(desired, 'rolled-back', error);
    } catch (err) {
      this.opts.artifacts.unpin?.(previous.running.sha256);
      this.report(desired, 'failed', `${error}; the previous model did not come back either: ${(err as Error).message}`);
    }
  }

  private fail(desired: Desired, previousStillServing: boolean, error: string): void {
    this.report(desired, previousStillServing ? 'rolled-back' : 'failed', error);
  }

  private async deactivate(): Promise<void> {
    const a = this.active;
    if (!a) return;
    this.active = null;
    await a.running.stop();
  }

  private async tick(): Promise<void> {
    const a = this.active;
    if (!a) return;
    try {
      const telemetry = await a.running.telemetry(this.droppedBefore);
      if (!telemetry) return;
      this.droppedBefore = telemetry.droppedTotal ?? null;
      this.opts.publishTelemetry(telemetry);
      if (this.reported.state === 'healthy' || this.reported.state === 'rolled-back') this.updateSlo(a.desired.slo, a.running, telemetry.memoryMb, telemetry.temperatureC);
    } catch (err) {
      this.opts.log.warn({ err: (err as Error).message }, 'telemetry failed');
    }
  }

  /** Re-publishes reported state when the model starts or stops meeting its SLO. */
  private updateSlo(slo: Slo, running: Running, memoryMb: number, temperatureC: number | null): void {
    const w = running.window(SLO_WINDOW_MS);
    if (w.frames === 0) return;
    const verdict = evaluateSlo({ fps: w.fps, p95Ms: w.p95Ms, memoryMb, temperatureC }, slo);
    const before = this.reported.slo;
    // Compare which bounds break, not the readings: those move every second.
    const bounds = (vs: string[]) => vs.map((x) => x.split(' ')[0]).join();
    if (before && before.met === verdict.met && bounds(before.violations) === bounds(verdict.violations)) return;
    this.reported = { ...this.reported, ts: Date.now(), slo: verdict };
    this.opts.publishReported(this.reported);
  }

  async close(): Promise<void> {
    this.closed = true;
    // a state still waiting for its download must not activate after the agent stopped
    this.supersede?.();
    clearInterval(this.telemetryTimer);
    await this.deactivate();
    await this.activation.close();
  }
}
