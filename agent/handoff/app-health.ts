import type { ReceivedReport } from '../local-api/app-reports.js';

export type AppVerdict = { state: 'healthy' } | { state: 'waiting' } | { state: 'unhealthy'; reason: string };

/**
 * The hand-off health check, on the application's reports received since
 * the hand-over: healthy at the first report on this model (a report naming
 * another sha256 is about the model before) at or above `minFps`; once the
 * window is over without one, unhealthy with the reason; else waiting.
 */
export function judgeAppReports(reports: readonly ReceivedReport[], o: { sha256: string; minFps: number; windowS: number; windowOver: boolean }): AppVerdict {
  const mine = reports.filter((r) => r.sha256 === undefined || r.sha256 === o.sha256);
  if (mine.some((r) => r.fps >= o.minFps)) return { state: 'healthy' };
  if (!o.windowOver) return { state: 'waiting' };
  if (mine.length === 0) {
    const other = reports.length - mine.length;
    return { state: 'unhealthy', reason: `the application sent no report on this model within ${o.windowS} s of the hand-over${other ? ` (${other} named another model)` : ''}` };
  }
  return { state: 'unhealthy', reason: `the application reported ${mine.at(-1)!.fps} FPS, below the ${o.minFps} FPS minimum` };
}
