// The heartbeat runs as a node-cron seconds step (`*/N * * * * *`), so N is a
// whole number of seconds a minute divides into steps of: 1 to 59. A module of
// its own so that `edgefit up` can check the flag without loading the agent.
export const HEARTBEAT_SECONDS = { min: 1, max: 59, fallback: 10 } as const;

export function validHeartbeatSeconds(n: number): boolean {
  return Number.isInteger(n) && n >= HEARTBEAT_SECONDS.min && n <= HEARTBEAT_SECONDS.max;
}
