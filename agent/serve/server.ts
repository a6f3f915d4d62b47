import * as ort from 'onnxruntime-node';
import { openDetector, type Detector } from '../../compress/detect/detector.js';
import { Letterboxer } from '../../compress/detect/letterbox.js';
import { PROTOCOL_VERSION } from '../../protocol/topics.js';
import type { DetectionsBus } from '../outputs/bus.js';
import { detectionsRecord } from '../outputs/record.js';
import { applyProviderEnv, type SessionProviders } from '../onnxruntime/providers.js';
import type { FrameSource } from './frames.js';
import { outputShapeProblem, windowStats, type FrameRecord, type WindowStats } from './health.js';
import type { MeasurementLock } from './lock.js';

/** Frames remembered for windows (telemetry 1 s, SLO 10 s). */
const KEEP_MS = 15_000;

export interface ServeModelOptions {
  threads?: number;
  /** The execution provider list and its TensorRT switches (sessionProviders); default cpu. */
  providers?: SessionProviders;
  /** Where each served frame's detections go (--detections, --publish-detections, snapshots, SSE), and the candidate they name. */
  outputs?: { bus: DetectionsBus; candidateId: string | null };
}

/**
 * One model running continuously on a frame source: letterbox, inference,
 * NMS, frame after frame. It pauses while a profiling job holds the
 * measurement lock and counts failed frames instead of stopping on them.
 */
export class ModelServer {
  errors = 0;
  lastError: string | null = null;
  private records: FrameRecord[] = [];
  /** Start of the current uninterrupted stretch of serving (after load or a pause). */
  private since = performance.now();
  private running = false;
  private loop: Promise<void> = Promise.resolve();
  private wakeOnStop: () => void = () => undefined;
  /** Resolves on stop: a wait for a frame from a source that is down must not hold the stop. */
  private readonly stopped: Promise<null>;
  private signalStopped: () => void = () => undefined;

  private constructor(
    readonly sha256: string,
    private readonly detector: Detector,
    private readonly outputs?: ServeModelOptions['outputs'],
  ) {
    this.stopped = new Promise<null>((resolve) => (this.signalStopped = () => resolve(null)));
  }

  /** The model's input size: the source letterboxes to it. */
  get inputSize(): { width: number; height: number } {
    return { width: this.detector.inputWidth, height: this.detector.inputHeight };
  }

  /** Loads the model and checks, on a real frame, that it answers with a YOLO head's output shape. */
  static async load(modelPath: string, sha256: string, frame: Parameters<Letterboxer['run']>[0], options: ServeModelOptions = {}): Promise<ModelServer> {
    applyProviderEnv(options.providers?.env ?? {});
    // openDetector: class names from the model's ultralytics metadata, for the detections records
    const detector = await openDetector(modelPath, {
      ...(options.threads === undefined ? {} : { intraOpThreads: options.threads }),
      ...(options.providers ? { executionProviders: options.providers.executionProviders } : {}),
    });
    try {
      if (detector.inputType === 'float32') {
        const { tensor } = new Letterboxer(detector.inputWidth, detector.inputHeight).run(frame);
        const out = await detector.session.run({ [detector.inputName]: new ort.Tensor('float32', tensor, [1, 3, detector.inputHeight, detector.inputWidth]) });
        const problem = outputShapeProblem(out[detector.outputName].dims, detector.inputHeight, detector.inputWidth);
        if (problem) throw new Error(problem);
      }
      await detector.detect(frame);
    } catch (err) {
      await detector.release();
      throw err;
    }
    return new ModelServer(sha256, detector, options.outputs);
  }

  start(frames: FrameSource, lock: MeasurementLock): void {
    if (this.running) return;
    this.running = true;
    this.since = performance.now();
    this.loop = this.run(frames, lock);
  }

  private async run(frames: FrameSource, lock: MeasurementLock): Promise<void> {
    while (this.running) {
      if (lock.pausesServing) {
        await frames.suspend?.();
        await Promise.race([lock.whenReleased(), new Promise<void>((resolve) => (this.wakeOnStop = resolve))]);
        // woken by stop(): the camera stays with the profile that holds it
        if (!this.running) break;
        await frames.resume?.();
        // Frames from before the pause would make the first window after it look slow.
        this.records = [];
        this.since = performance.now();
        continue;
      }
      let frame: Awaited<ReturnType<FrameSource['next']>> | null;
      const pending = frames.next();
      pending.catch(() => undefined); // one that loses the race to stop may reject later, unheard
      try {
        frame = await Promise.race([pending, this.stopped]);
      } catch (err) {
        // A plain frame source that throws fails the frame (the agent's --source, a SourceSlot, waits through its
        // losses instead and throws only once closed, after this server stopped).
        if (!this.running) break;
        await this.fail(err);
        continue;
      }
      if (frame === null) break;
      const t0 = performance.now();
      try {
        const { detections } = await this.detector.detect(frame);
        const t1 = performance.now();
        this.records.push({ doneAt: t1, latencyMs: t1 - t0 });
        // builds nothing while no output listens; the listeners only queue
        const served = frame;
        this.outputs?.bus.served((seq) => ({ frame: served, record: detectionsRecord({ v: PROTOCOL_VERSION, ts: Date.now(), candidateId: this.outputs!.candidateId, sha256: this.sha256, seq }, served, detections, (id) => this.detector.className(id)) }));
      } catch (err) {
        await this.fail(err);
      }
      if (this.records.length > 0 && this.records[0].doneAt < t0 - KEEP_MS) {
        const cut = this.records.findIndex((r) => r.doneAt >= t0 - KEEP_MS);
        this.records = this.records.slice(cut);
      }
    }
  }

  private async fail(err: unknown): Promise<void> {
    this.errors++;
    this.lastError = err instanceof Error ? err.message : String(err);
    // A model failing every frame must not spin the CPU.
    await new Promise((r) => setTimeout(r, 100));
  }

  /** Stats over the last `windowMs`, or over the time served so far when that is shorter. */
  window(windowMs: number): WindowStats {
    const now = performance.now();
    return windowStats(this.records, now, Math.max(1, Math.min(windowMs, now - this.since)));
  }

  async stop(): Promise<void> {
    this.running = false;
    this.signalStopped();
    this.wakeOnStop();
    await this.loop;
    await this.detector.release();
  }
}
