import type { RolloutSpec } from './spec.js';

/** The window of `rate.perMinute`. */
export const RATE_WINDOW_MS = 60_000;

/**
 * How many more devices may get their desired state now under the rollout
 * rate: at most `maxInFlight` between sent and decided at once, and at most
 * `perMinute` sent within the last minute (`sentAt`: when this rollout last
 * gave each device its model), so a fleet takes the new model in a trickle
 * its network and its operators can follow, however fast devices turn
 * healthy or fail.
 */
export function deploySlots(rate: RolloutSpec['rate'], inFlight: number, sentAt: readonly number[], now: number): number {
  const byInFlight = rate.maxInFlight - inFlight;
  const byMinute = rate.perMinute === undefined ? Infinity : rate.perMinute - sentAt.filter((t) => t > now - RATE_WINDOW_MS).length;
  return Math.max(0, Math.min(byInFlight, byMinute));
}
