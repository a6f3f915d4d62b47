// The messages between main.ts and its device workers (Node IPC).

export type ToWorker =
  | {
      type: 'start';
      brokerUrl: string;
      devices: Array<{ id: string; token: string; cls: number }>;
      startedAt: number;
      heartbeatS: number;
      telemetryS: number;
      profileDelayMs: number;
      activateMs: number;
      healthMs: number;
      /** Each artifact's FLOPs over the largest candidate's (at most 1): a device runs a candidate at its class's FPS / cost^0.8. */
      relativeCost: Record<string, number>;
      connectBatch: number;
      connectPauseMs: number;
    }
  | { type: 'stop' };

/** Sent every second; desiredAt holds the receipt times since the last report. */
export interface WorkerStats {
  type: 'stats';
  devices: number;
  connected: number;
  connects: number;
  closes: number;
  connackTimeouts: number;
  errors: Record<string, number>;
  jobs: number;
  desired: number;
  healthy: number;
  telemetry: number;
  desiredAt: number[];
  rssMb: number;
}
