// How long an agent waits before it asks the broker again after losing it.
// A fixed 2 s made a busy broker's trouble worse: the first scale probe saw
// 3,000 devices time out on their CONNACK and all come back 2 s later, 834
// reconnects that each took over its own half-open session and fired its last
// will, and at 10,000 about 31,000 reconnects in 4 minutes against a listen
// backlog full at 511. Each failed attempt doubles the wait up to a ceiling,
// and each wait is drawn in its upper half ("equal jitter"), so devices that
// lost the broker together spread out and none retries in a hot loop.

// The first wait is at most 1 s, so an agent whose broker restarted in a few seconds is back about as soon as
// with the old fixed 2 s (the fleet tests restart a controller and wait 15 s for its agents).
export const RECONNECT_BACKOFF = { firstMs: 1000, maxMs: 60_000 } as const;

/**
 * The wait before reconnect attempt `attempt` (0 for the first after a
 * connection was lost): a ceiling of firstMs·2^attempt, at most maxMs, and a
 * wait drawn uniformly in [ceiling/2, ceiling) from `random` (in [0, 1)).
 */
export function reconnectDelayMs(attempt: number, random: () => number = Math.random, limits: { firstMs: number; maxMs: number } = RECONNECT_BACKOFF): number {
  const ceiling = Math.min(limits.maxMs, limits.firstMs * 2 ** Math.max(0, Math.min(attempt, 30)));
  return Math.floor(ceiling / 2 + random() * (ceiling / 2));
}
