import { z } from 'zod';
import type { Telemetry } from '../../protocol/messages.js';

/** POST /v1/app-report: what the user's application measured of itself (hand-off mode, or any app on the device). */
export const AppReport = z
  .object({
    /** Frames per second the application sustains now, its own measurement. */
    fps: z.number().finite().min(0).max(100_000),
    /** Its 95th percentile per-frame latency, ms. */
    p95Ms: z.number().finite().min(0).max(60_000).optional(),
    /** Frames it has processed since it started. */
    frames: z.number().int().min(0).max(1e15).optional(),
    /** The model file it runs (sha256 of current.onnx): a report on another model does not count for this one. */
    sha256: z.string().regex(/^[0-9a-f]{64}$/, 'sha256 must be 64 lowercase hex digits').optional(),
  })
  .strict();
export type AppReport = z.infer<typeof AppReport>;

export interface ReceivedReport extends AppReport {
  /** When the agent received it (ms since epoch, the agent's clock). */
  at: number;
}

/** Reports kept: a minute at one a second covers any health window and the SLO's 10 s. */
const KEEP = 120;

/** The application's latest reports, newest last. */
export class AppReports {
  private reports: ReceivedReport[] = [];
  private listeners = new Set<() => void>();

  add(report: AppReport, at = Date.now()): void {
    this.reports.push({ ...report, at });
    if (this.reports.length > KEEP) this.reports.splice(0, this.reports.length - KEEP);
    for (const l of this.listeners) l();
  }

  /** Reports received at or after `since` (ms), newest last. */
  since(since: number): ReceivedReport[] {
    return this.reports.filter((r) => r.at >= since);
  }

  latest(): ReceivedReport | null {
    return this.reports.at(-1) ?? null;
  }

  /** Calls `listener` on every report until the returned function is called. */
  onReport(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

/** Telemetry's `app` field from the latest report; undefined when the application never reported. */
export function appTelemetry(latest: ReceivedReport | null, now = Date.now()): Telemetry['app'] {
  if (!latest) return undefined;
  return { fps: latest.fps, p95Ms: latest.p95Ms ?? null, frames: latest.frames ?? null, ageS: Math.max(0, Math.round((now - latest.at) / 100) / 10) };
}
