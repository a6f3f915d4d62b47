// When an agent heartbeats. Every agent used to heartbeat on the same
// wall-clock tick (node-cron `*/10`), so each tick was a burst of one message
// per device: the first scale probe saw 10,000 heartbeats arrive within one
// tick every 10 s. Each device now keeps its own phase inside the period,
// derived from its id: the fleet's heartbeats spread evenly over the period,
// and one device's heartbeats stay a period apart (no drift, no randomness to
// reproduce in a test).

/** FNV-1a, 32 bits: a stable, well-spread hash of the device id. */
function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** The device's offset inside each period, in [0, periodMs). */
export function heartbeatPhaseMs(deviceId: string, periodMs: number): number {
  return fnv1a(deviceId) % periodMs;
}

/**
 * Milliseconds from `now` to the device's next heartbeat slot: the next
 * instant t > now with t ≡ phase (mod period), on the wall clock, so that a
 * late timer does not push every later heartbeat back.
 */
export function nextHeartbeatDelayMs(now: number, periodMs: number, phaseMs: number): number {
  const delay = (((phaseMs - now) % periodMs) + periodMs) % periodMs;
  return delay === 0 ? periodMs : delay;
}
