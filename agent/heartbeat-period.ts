// The heartbeat period is a whole number of seconds, 1 to 59 (heartbeat-schedule.ts spreads the fleet over it; the
// bounds are those of the node-cron step it replaced, which flags and docs name). A module of
// its own so that `edgefit up` can check the flag without loading the agent.
export const HEARTBEAT_SECONDS = { min: 1, max: 59, fallback: 10 } as const;

export function validHeartbeatSeconds(n: number): boolean {
  return Number.isInteger(n) && n >= HEARTBEAT_SECONDS.min && n <= HEARTBEAT_SECONDS.max;
}
