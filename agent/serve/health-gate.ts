import type { Logger } from 'pino';
import type { Slo } from '../../protocol/messages.js';
import type { ModelServer } from './server.js';
import type { SourceSlot } from './source-slot.js';

/** The floor without an SLO: a model that cannot do half a frame a second is broken, not slow. */
export const DEFAULT_HEALTH_MIN_FPS = 0.5;

/**
 * The fewest FPS a new model must sustain through its health check: the
 * agent's floor, or the desired state's SLO minFps where that is lower (an
 * arm64 board under qemu serves 1-3 FPS and its SLO says so). Never the SLO
 * itself where it is higher: the check asks whether the model runs, and 3 s of
 * serving read 12.7 FPS on a busy agent whose profile had cleared 15 with the
 * planner's headroom (rolled back by a floor that followed the SLO); whether a
 * device meets its SLO is measured and shown, not decided in 3 s.
 */
export function healthFloorFps(slo: Slo, agentFloor: number | undefined): number {
  return Math.min(slo.minFps ?? Infinity, agentFloor ?? DEFAULT_HEALTH_MIN_FPS);
}

/**
 * Serves for a window: no errors and at least `minFps`, or the reason why
 * not. A source that is down gives no frames: its gap is no fault of the
 * model, so throughput is not judged then (telemetry says the source is down).
 */
export async function healthGate(server: ModelServer, o: { windowS: number; minFps: number; slot: SourceSlot | null; log: Logger }): Promise<string | null> {
  await new Promise((r) => setTimeout(r, o.windowS * 1000));
  if (server.errors > 0) return `${server.errors} frame(s) failed: ${server.lastError}`;
  const w = server.window(o.windowS * 1000);
  const source = o.slot?.stats() ?? null;
  if (w.frames === 0 && o.slot && !source?.connected) {
    o.log.warn({ source: o.slot.name, err: source?.lastError ?? null }, 'health check: the source gave no frame, throughput not judged');
    return null;
  }
  if (w.fps < o.minFps) return `${w.fps} FPS over ${o.windowS} s, below the ${o.minFps} FPS minimum`;
  return null;
}
