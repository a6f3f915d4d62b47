// The messages between main.ts and the controller's process (Node IPC).

export type ToChild = { type: 'stats'; reset?: boolean } | { type: 'rollout'; id: string } | { type: 'stop' };

export type ChildReply =
  | { type: 'ready'; httpUrl: string; brokerUrl: string; adminToken: string; pid: number }
  | { type: 'stats'; lagP50Ms: number; lagP99Ms: number; lagMaxMs: number; rowsWritten: number; online: number; devices: number; telemetryIn: number }
  | { type: 'rollout'; state: string; stage: number; states: Record<string, number>; profiles: number; classes: number }
  | { type: 'closed'; ms: number; error: string | null }
  | { type: 'crash'; error: string };
