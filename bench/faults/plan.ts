// A fault run's plan, drawn from its seed alone (mulberry32), so any run of
// the campaign can be repeated by its number: which fault, on which agent and
// broker, at which point of the rollout, for how long.
import { mulberry32 } from '../../compress/random.js';
import type { AgentSpec } from './fleet.js';

export const FAULTS = ['agent-kill', 'controller-kill', 'broker-kill', 'net-cut', 'net-loss', 'disk-full'] as const;
export type FaultKind = (typeof FAULTS)[number];

/** A device's way through a rollout, in order: a fault fires when its trigger device reaches (or passes) one of these. */
export const PROGRESS = ['pending', 'profiling', 'chosen', 'downloading', 'verifying', 'activating', 'health-check', 'healthy'] as const;
export type Progress = (typeof PROGRESS)[number];

export interface RunPlan {
  seed: number;
  fault: FaultKind;
  broker: 'embedded' | 'mosquitto';
  /** The agent the fault hits (for the controller and the broker: the device whose progress triggers it). */
  target: string;
  /** Fires once the target reaches this point, `delayMs` later. */
  trigger: Progress;
  delayMs: number;
  /** How long the fault lasts: the kill-to-restart gap, the cut, the loss window, the full disk. */
  durationMs: number;
  agents: AgentSpec[];
  /** Changes to the rollout spec (faultSpec in run.ts): the test suite's short cases skip profiling or run one stage. */
  spec?: Record<string, unknown>;
}

/**
 * Three agents, a canary and a second stage. dev-a and dev-b are one device class, dev-c another:
 * two profile jobs. Every healthy agent serves nonstop (a core each on this 2-core VM), which is
 * why a run profiles one candidate only.
 */
export const AGENT_IDS = ['dev-a', 'dev-b', 'dev-c'] as const;
const SALTS: Record<string, string> = { 'dev-a': 'class-1', 'dev-b': 'class-1', 'dev-c': 'class-2' };
/** The disk-full agent's tmpfs: room for two 12 MB candidates and their partial files. */
export const TMPFS_BYTES = 64 * 1024 * 1024;

/** Where in the rollout each fault is worth firing: a download for the disk, any step for the rest. */
const TRIGGERS: Record<FaultKind, readonly Progress[]> = {
  'agent-kill': ['profiling', 'chosen', 'downloading', 'health-check', 'healthy'],
  'controller-kill': ['pending', 'profiling', 'chosen', 'downloading', 'health-check', 'healthy'],
  'broker-kill': ['pending', 'profiling', 'chosen', 'downloading', 'health-check', 'healthy'],
  'net-cut': ['pending', 'profiling', 'chosen', 'downloading', 'health-check'],
  'net-loss': ['pending', 'profiling', 'chosen', 'downloading'],
  'disk-full': ['pending', 'profiling', 'chosen'],
};

/** [min, max] milliseconds each fault lasts. */
const DURATION: Record<FaultKind, readonly [number, number]> = {
  'agent-kill': [200, 3000],
  'controller-kill': [200, 3000],
  'broker-kill': [200, 3000],
  // past the 10 s keepalive's 15 s limit, and short of it
  'net-cut': [1500, 25_000],
  'net-loss': [3000, 12_000],
  'disk-full': [1000, 8000],
};

/**
 * The plan of run `seed`; `fault` pins the kind (the test suite's cases),
 * otherwise the seed draws it too. `netns: false` (namespaces not permitted)
 * cuts through a blackholing proxy instead.
 */
export function planRun(seed: number, fault?: FaultKind, o: { netns?: boolean } = {}): RunPlan {
  const random = mulberry32(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)];
  const kind = fault ?? pick(FAULTS);
  // The broker only dies as its own process (Mosquitto); the other faults run on either broker.
  const broker = kind === 'broker-kill' ? 'mosquitto' : kind === 'agent-kill' || kind === 'controller-kill' ? pick(['embedded', 'mosquitto'] as const) : 'embedded';
  const target = pick(AGENT_IDS);
  const trigger = pick(TRIGGERS[kind]);
  const delayMs = Math.round(random() * 1000);
  const [lo, hi] = DURATION[kind];
  const durationMs = Math.round(lo + random() * (hi - lo));
  const agents = AGENT_IDS.map((id) => ({
    id,
    salt: SALTS[id],
    net: id !== target ? ('loopback' as const) : kind === 'net-cut' ? (o.netns === false ? ('proxy' as const) : ('netns' as const)) : kind === 'net-loss' ? ('proxy' as const) : ('loopback' as const),
    ...(kind === 'disk-full' && id === target ? { tmpfsBytes: TMPFS_BYTES } : {}),
  }));
  return { seed, fault: kind, broker, target, trigger, delayMs, durationMs, agents };
}

/** Whether a device in `state` (with `resume`, when offline) has reached `trigger`: terminal exits count as past every point. */
export function reached(state: string, resume: string | null, trigger: Progress): boolean {
  const at = PROGRESS.indexOf((state === 'offline' ? (resume ?? 'pending') : state) as Progress);
  if (at === -1) return true;
  return at >= PROGRESS.indexOf(trigger);
}
