// What the controller streams to the dashboard: types only, shared by the
// Node side (controller/live, controller/http/events.ts) and the browser
// bundle (controller/dashboard), which imports them with `import type`.

import type { RolloutSummary } from '../rollout/status.js';

/**
 * ok: serving and within limits · warning: serving with a problem (throttled,
 * hot, errors, SLO missed) · failing: the deployment failed · idle: online,
 * serving nothing · offline: not connected.
 */
export type Health = 'ok' | 'warning' | 'failing' | 'idle' | 'offline';

/** One fleet row: the latest of everything the controller knows about a device. */
export interface LiveDevice {
  id: string;
  deviceClass: string | null;
  labels: Record<string, string>;
  online: boolean;
  /** ms since epoch; null: never seen. */
  lastSeen: number | null;
  /** Board model where the device reports one, else the CPU model. */
  hardware: string | null;
  /** The candidate the device serves now (from telemetry or reported state). */
  candidate: string | null;
  /** The execution provider it serves on, as the device reports it (null: not reported, e.g. an older agent). */
  ep: string | null;
  fps: number | null;
  /** The user's application's own report (hand-off mode): its FPS and how old the report is; null when it never reported. */
  app: { fps: number; ageS: number } | null;
  latencyP95Ms: number | null;
  /** Per frame, apart: decoder CPU time and inference time (telemetry; null: not reported, e.g. an older agent or no frame). */
  decodeMs: number | null;
  inferenceMs: number | null;
  /** The frame source, where the agent serves from one (--source): null when it reports none. */
  source: SourceHealth | null;
  /** Memory of the serving process (telemetry); null when not serving. */
  memoryMb: number | null;
  /** Whole-device memory from the heartbeat. */
  deviceMemUsedMb: number | null;
  deviceMemTotalMb: number | null;
  temperatureC: number | null;
  throttled: boolean | null;
  health: Health;
  /** One line on why health is not ok; '' when it is. */
  healthReason: string;
  /** The latest FPS sample, for the client to append to its sparkline. */
  fpsSample: Sample | null;
}

/** What the device says about its frame source (latest frame wins: drops are by design, not faults). */
export interface SourceHealth {
  /** Frames replaced by a newer one since the previous telemetry (about a second), and since the source opened. */
  droppedFrames: number | null;
  droppedTotal: number | null;
  reconnects: number | null;
  connected: boolean | null;
  /** The last error, kept after a reconnect (the gap says when it was). */
  error: string | null;
  /** The last loss, ms since epoch (device clock); `to` null while it lasts. */
  gap: { from: number; to: number | null } | null;
}

/** [time ms, value] */
export type Sample = [number, number];

/** The first event of every stream: the whole fleet and the last five minutes of FPS per device. */
export interface LiveSnapshot {
  serverTime: number;
  devices: LiveDevice[];
  sparklines: Record<string, Sample[]>;
}

/** Every later event: the rows that changed since the last flush, one entry per device. */
export interface LiveBatch {
  serverTime: number;
  devices: LiveDevice[];
}

/** A `rollouts` event: the summary of every rollout written since the last one, as GET /api/rollouts/:id shapes it. */
export interface RolloutsBatch {
  serverTime: number;
  rollouts: RolloutSummary[];
}

/** GET /api/live/devices/:id/history: FPS and temperature over the retained window. */
export interface DeviceHistory {
  id: string;
  fps: Sample[];
  temperatureC: Sample[];
}

/** How long the client keeps sparkline points. */
export const SPARKLINE_WINDOW_MS = 5 * 60_000;
