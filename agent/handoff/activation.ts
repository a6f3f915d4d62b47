import { readFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { Desired, Telemetry } from '../../protocol/messages.js';
import { PROTOCOL_VERSION } from '../../protocol/topics.js';
import { processMemory } from '../profile/memory.js';
import { sampleThermal } from '../profile/thermal-watch.js';
import { readFirmwareThrottled, throttledNow } from '../sensors/index.js';
import type { Activation, Running } from '../serve/activation.js';
import { healthFloorFps } from '../serve/health-gate.js';
import type { AppReports } from '../local-api/app-reports.js';
import { judgeAppReports } from './app-health.js';
import { describeModel } from './descriptor.js';
import { handOver, handoffPaths } from './files.js';
import { runHook } from './hook.js';

export interface HandoffOptions {
  dir: string;
  /** --on-deploy: run through the shell after each hand-over; absent: none. */
  onDeploy?: string;
  onDeployTimeoutS: number;
  reports: AppReports;
  log: Logger;
}

/** A report older than this is no reading of the application's FPS now: telemetry says 0. */
const FRESH_MS = 5000;
const MB = 1024 * 1024;

/**
 * Activating a model in hand-off mode: the file goes to DIR/current.onnx
 * (with current.json), the --on-deploy hook tells the application, and the
 * application's own reports decide its health. The agent serves nothing.
 */
export class HandoffActivation implements Activation {
  readonly servesFrames = false;
  readonly startFailure = 'the hand-over failed';

  constructor(private readonly o: HandoffOptions) {}

  async prepare(): Promise<void> {}

  async start(modelPath: string, sha256: string, desired: Desired, restoring: boolean): Promise<Running> {
    const { dir, onDeploy, log } = this.o;
    const descriptor = describeModel(await readFile(modelPath), sha256, desired);
    const previous = await handOver(dir, modelPath, descriptor);
    const p = handoffPaths(dir);
    log.info({ generation: desired.generation, sha256, candidate: desired.candidateId, restoring, previous }, restoring ? 'previous model handed back' : 'model handed over');
    if (onDeploy) {
      await runHook(
        onDeploy,
        {
          EDGEFIT_MODEL: p.model,
          EDGEFIT_MODEL_JSON: p.json,
          EDGEFIT_CANDIDATE: desired.candidateId ?? '',
          EDGEFIT_SHA256: sha256,
          EDGEFIT_GENERATION: String(desired.generation),
          EDGEFIT_PREVIOUS_MODEL: previous ?? '',
        },
        this.o.onDeployTimeoutS,
        log.child({ component: 'on-deploy' }),
      );
    }
    return new HandedOver(sha256, Date.now(), this.o.reports);
  }

  async release(): Promise<void> {}

  async close(): Promise<void> {}
}

class HandedOver implements Running {
  constructor(
    readonly sha256: string,
    /** When the hook finished: reports from before are about the application before it (re)loaded. */
    private readonly handedAt: number,
    private readonly reports: AppReports,
  ) {}

  /** Resolves at the first report on this model at the floor or above, or at the window's end with the reason. */
  healthCheck(desired: Desired, h: { windowS: number; agentFloorFps?: number }): Promise<string | null> {
    const judge = (windowOver: boolean) =>
      judgeAppReports(this.reports.since(this.handedAt), { sha256: this.sha256, minFps: healthFloorFps(desired.slo, h.agentFloorFps), windowS: h.windowS, windowOver });
    return new Promise((resolve) => {
      const done = (result: string | null) => {
        clearTimeout(timer);
        unsubscribe();
        resolve(result);
      };
      const unsubscribe = this.reports.onReport(() => {
        if (judge(false).state === 'healthy') done(null);
      });
      const timer = setTimeout(() => {
        const v = judge(true);
        done(v.state === 'unhealthy' ? v.reason : null);
      }, h.windowS * 1000);
      if (judge(false).state === 'healthy') done(null);
    });
  }

  private fresh() {
    const r = this.reports.latest();
    return r && r.at >= this.handedAt && Date.now() - r.at <= FRESH_MS && (r.sha256 === undefined || r.sha256 === this.sha256) ? r : null;
  }

  async telemetry(): Promise<Telemetry> {
    const [thermal, firmware] = await Promise.all([sampleThermal(), readFirmwareThrottled()]);
    const r = this.fresh();
    return {
      v: PROTOCOL_VERSION as typeof PROTOCOL_VERSION,
      ts: Date.now(),
      // the application's own measurement: the agent runs no frames in hand-off (0 while it does not report)
      fps: r?.fps ?? 0,
      latencyP50Ms: null,
      latencyP95Ms: r?.p95Ms ?? null,
      // the agent's own process: the application's memory is its own to report
      memoryMb: Math.round((processMemory().rssBytes() / MB) * 10) / 10,
      temperatureC: thermal.temperatureC,
      throttled: firmware ? throttledNow(firmware) : null,
      modelSha256: this.sha256,
      errors: 0,
    };
  }

  window(ms: number) {
    const recent = this.reports.since(Math.max(this.handedAt, Date.now() - ms)).filter((r) => r.sha256 === undefined || r.sha256 === this.sha256);
    const last = recent.at(-1);
    return { frames: recent.length, fps: last?.fps ?? 0, p95Ms: last?.p95Ms ?? null };
  }

  async stop(): Promise<void> {}
}
