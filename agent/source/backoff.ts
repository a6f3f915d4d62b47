export interface Backoff {
  /** Delay before the first retry. */
  baseMs: number;
  /** No delay grows past this. */
  capMs: number;
}

/** 0.5 s doubling to 10 s: a camera that reboots (about 30 s) is back within 10 s of its return. */
export const DEFAULT_BACKOFF: Backoff = { baseMs: 500, capMs: 10_000 };

/**
 * The wait before retry number `attempt` (0 for the first): base·2^attempt,
 * capped, then "equal jitter" — half of it fixed, half drawn uniformly — so a
 * fleet of agents whose camera server restarts does not reconnect in lockstep,
 * and no wait is shorter than half the capped delay.
 */
export function backoffDelay(attempt: number, b: Backoff = DEFAULT_BACKOFF, random: () => number = Math.random): number {
  const capped = Math.min(b.capMs, b.baseMs * 2 ** Math.max(0, attempt));
  return capped / 2 + random() * (capped / 2);
}
