import type { Logger } from 'pino';
import type { Desired, Telemetry } from '../../protocol/messages.js';
import { sessionProviders } from '../onnxruntime/providers.js';
import { syntheticFrame, type FrameSource } from './frames.js';
import { healthFloorFps, healthGate } from './health-gate.js';
import type { WindowStats } from './health.js';
import type { MeasurementLock } from './lock.js';
import { ModelServer } from './server.js';
import type { SourceSlot } from './source-slot.js';
import type { DetectionsBus } from '../outputs/bus.js';
import { sampleTelemetry } from './telemetry-sample.js';

/**
 * What "activate" means for the serving state machine (serving.ts): the
 * agent serves the model itself (ServerActivation) or hands the file to the
 * user's application (agent/handoff). Fetching, verifying, generations,
 * supersession, rollback and reported state stay in serving.ts, once.
 */
export interface Activation {
  /** False where an application the agent does not pause runs the model: profiles then say serving was not paused. */
  readonly servesFrames: boolean;
  /** How a `start` that threw reads in reported state, before its reason. */
  readonly startFailure: string;
  /** What must hold before the running model stops (serving: a frame to check on); throws with the reason. */
  prepare(): Promise<void>;
  /** Puts a verified model in place; throws with the reason when it cannot run. `restoring`: a rollback to the model that ran before. */
  start(modelPath: string, sha256: string, desired: Desired, restoring: boolean): Promise<Running>;
  /** Serving nothing any more (desired model null). */
  release(): Promise<void>;
  close(): Promise<void>;
}

/** One activated model. */
export interface Running {
  readonly sha256: string;
  /** Waits out the agent's health window: null when healthy, else the reason. */
  healthCheck(desired: Desired, o: { windowS: number; agentFloorFps?: number }): Promise<string | null>;
  /** The telemetry of the last second; null when there is nothing to say now (paused for a profile). */
  telemetry(droppedBefore: number | null): Promise<Telemetry | null>;
  /** Throughput and latency over a window, for the SLO verdict. */
  window(ms: number): Pick<WindowStats, 'frames' | 'fps' | 'p95Ms'>;
  stop(): Promise<void>;
}

/** The agent serves the model itself: a ModelServer on the frames or the --source slot. */
export class ServerActivation implements Activation {
  readonly servesFrames = true;
  readonly startFailure = 'the model failed to load';
  private frame: Awaited<ReturnType<FrameSource['next']>> | null = null;

  constructor(
    private readonly o: { frames: FrameSource; slot: SourceSlot | null; lock: MeasurementLock; stateDir?: string; log: Logger; detections?: DetectionsBus },
  ) {}

  /**
   * The frame a new model is loaded and checked on, before the running one
   * stops. With a source it is a built-in scene: the source opens at the
   * model's input size only once the model is known, and a camera that is
   * down must not keep a model from activating.
   */
  async prepare(): Promise<void> {
    this.frame = this.o.slot ? syntheticFrame(640, 480, 1) : await this.o.frames.next();
  }

  async start(modelPath: string, sha256: string, desired: Desired): Promise<Running> {
    if (!this.frame) await this.prepare();
    const frame = this.frame!;
    this.frame = null;
    const providers = sessionProviders(desired.ep ?? 'cpu', desired.providerOptions, this.o.stateDir ?? '.edgefit-agent', sha256);
    const outputs = this.o.detections ? { outputs: { bus: this.o.detections, candidateId: desired.candidateId ?? null } } : {};
    const server = await ModelServer.load(modelPath, sha256, frame, { threads: desired.threads, providers, ...outputs });
    await this.o.slot?.use(server.inputSize);
    server.start(this.o.slot ?? this.o.frames, this.o.lock);
    return new ServedModel(server, this.o);
  }

  async release(): Promise<void> {
    await this.o.slot?.release();
  }

  async close(): Promise<void> {
    await this.o.slot?.close();
  }
}

class ServedModel implements Running {
  constructor(
    private readonly server: ModelServer,
    private readonly o: { slot: SourceSlot | null; lock: MeasurementLock; log: Logger },
  ) {}

  get sha256(): string {
    return this.server.sha256;
  }

  healthCheck(desired: Desired, h: { windowS: number; agentFloorFps?: number }): Promise<string | null> {
    return healthGate(this.server, { windowS: h.windowS, minFps: healthFloorFps(desired.slo, h.agentFloorFps), slot: this.o.slot, log: this.o.log });
  }

  async telemetry(droppedBefore: number | null): Promise<Telemetry | null> {
    if (this.o.lock.pausesServing) return null;
    return sampleTelemetry(this.server, this.o.slot, droppedBefore);
  }

  window(ms: number) {
    return this.server.window(ms);
  }

  stop(): Promise<void> {
    return this.server.stop();
  }
}
