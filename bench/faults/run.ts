// One fault run: a fresh fleet, a staged rollout to its three agents, one
// fault fired when the target device reaches the planned point of the
// rollout, then a wait for the rollout to end and the invariants to hold
// (they may take a few seconds to settle: a rollback's desired state, a
// reported state republished on reconnect). What still does not hold at the
// deadline is broken.
import { checkInvariants, type Broken } from './invariants.js';
import { FaultFleet } from './fleet.js';
import { reached, type RunPlan } from './plan.js';
import { sleep } from './processes.js';

export interface RunResult {
  plan: RunPlan;
  /** When the fault fired, in words ("dev-b downloading +340 ms"), or why it did not. */
  fired: string;
  /** The rollout's end: its state and its devices' states. */
  outcome: string;
  broken: Broken[];
  seconds: number;
  /** The run could not be made (setup failed): no verdict. */
  error?: string;
  /** The last lines of each process, when something broke. */
  tails?: string;
}

export interface RunOptions {
  /** How long the rollout may take to end after the fault (default 180 s). */
  finishMs?: number;
  /** How long the invariants may take to settle once it ended (default 20 s). */
  settleMs?: number;
  log?: (line: string) => void;
}

interface Status {
  state: string;
  reason: string | null;
  devices: Array<{ deviceId: string; state: string; resumeState: string | null; error: string | null }>;
}

/**
 * One candidate (n64), profiled short; one retry (a device whose download hit a full disk may try
 * again), and a timeout no fault outlasts. Two candidates doubled the profiles: a 1 s profile took
 * 14-18 s of wall time with three agents serving on the loaded 2-core VM.
 */
export function faultSpec(model: string) {
  return {
    model,
    candidates: ['n64'],
    slo: { minFps: 1 },
    stages: { canary: 1, phases: ['100%'] },
    profile: { durationS: 1, warmup: 1 },
    // 120 s, not 30: at load average 12 (four engineers' suites on this VM) a 1 s profile went unanswered for 30 s
    deviceTimeoutS: 120,
    retries: 1,
    abort: { failurePct: 50, minDevices: 2 },
  };
}

/** The fault's start and end; the time between is the plan's duration. */
function faultOf(fleet: FaultFleet, plan: RunPlan): { begin(): Promise<void>; end(): Promise<void> } {
  const { target } = plan;
  switch (plan.fault) {
    case 'agent-kill':
      return { begin: () => fleet.killAgent(target), end: async () => fleet.startAgent(target) };
    case 'controller-kill':
      return { begin: () => fleet.killController(), end: () => fleet.startController() };
    case 'broker-kill':
      return { begin: () => fleet.killBroker(), end: () => fleet.startBroker() };
    case 'net-cut':
      return { begin: async () => fleet.cut(target), end: async () => fleet.restore(target) };
    case 'net-loss': {
      // 30% of chunks wait as a lost segment's retransmit would; downloads also squeezed to 512 KiB/s
      const lossy = { latencyMs: 30, jitterMs: 70, lossP: 0.3, stallMs: [200, 1500] as const };
      const { mqtt, http } = fleet.proxies(target);
      return {
        begin: async () => {
          mqtt.set(lossy);
          http.set({ ...lossy, bytesPerSec: 512 * 1024 });
        },
        end: async () => {
          mqtt.set({});
          http.set({});
        },
      };
    }
    case 'disk-full':
      return { begin: async () => void fleet.fillDisk(target), end: async () => fleet.freeDisk(target) };
  }
}

export async function runFault(plan: RunPlan, o: RunOptions = {}): Promise<RunResult> {
  const log = o.log ?? (() => undefined);
  const started = Date.now();
  const fleet = new FaultFleet({ broker: plan.broker, agents: plan.agents, seed: plan.seed });
  let fired = 'not fired';
  let outcome = 'not started';
  try {
    await fleet.start();
    const model = await fleet.addModel();
    const fault = faultOf(fleet, plan);
    // A disk full from the start fills before the rollout exists: its first download must meet it.
    const early = plan.fault === 'disk-full' && plan.trigger === 'pending';
    if (early) {
      await fault.begin();
      fired = `${plan.target} before the rollout`;
    }
    const { id } = await fleet.api<{ id: string }>('POST', '/api/rollouts', { ...faultSpec(model), ...plan.spec });
    const status = () => fleet.api<Status>('GET', `/api/rollouts/${id}`);
    const done = (s: Status) => s.state === 'completed' || s.state === 'aborted';

    // Wait for the trigger; a rollout that ends first still gets its fault, after the end.
    let last: Status | undefined;
    while (!early) {
      last = await status().catch(() => last);
      const d = last?.devices.find((x) => x.deviceId === plan.target);
      if (d && reached(d.state, d.resumeState, plan.trigger)) {
        fired = `${plan.target} ${d.state} +${plan.delayMs} ms`;
        break;
      }
      if (last && done(last)) {
        fired = `after the rollout ended (${last.state}) +${plan.delayMs} ms`;
        break;
      }
      if (Date.now() - started > 240_000) throw new Error(`the trigger (${plan.target} ${plan.trigger}) never came`);
      await sleep(100);
    }
    if (!early) {
      await sleep(plan.delayMs);
      await fault.begin();
    }
    log(`seed ${plan.seed}: ${plan.fault} on ${plan.target} (${plan.broker}) fired at ${fired} for ${plan.durationMs} ms`);
    await sleep(plan.durationMs);
    await fault.end();

    const finishBy = Date.now() + (o.finishMs ?? 180_000);
    while (Date.now() < finishBy) {
      last = await status().catch(() => last);
      if (last && done(last)) break;
      await sleep(250);
    }
    const counts = new Map<string, number>();
    for (const d of last?.devices ?? []) counts.set(d.state, (counts.get(d.state) ?? 0) + 1);
    outcome = `${last?.state ?? 'unknown'}: ${[...counts].map(([s, n]) => `${n} ${s}`).join(', ')}`;
    log(`  ${last?.state ?? 'unknown'} (${last?.reason ?? ''}) in ${((Date.now() - started) / 1000).toFixed(1)} s: ${(last?.devices ?? []).map((d) => `${d.deviceId} ${d.state}${d.error ? ` (${d.error})` : ''}`).join('; ')}`);

    let broken = checkInvariants(await fleet.snapshot());
    const settleBy = Date.now() + (o.settleMs ?? 20_000);
    while (broken.length && Date.now() < settleBy) {
      await sleep(500);
      broken = checkInvariants(await fleet.snapshot());
    }
    return { plan, fired, outcome, broken, seconds: (Date.now() - started) / 1000, ...(broken.length ? { tails: fleet.tails() } : {}) };
  } catch (err) {
    return { plan, fired, outcome, broken: [], seconds: (Date.now() - started) / 1000, error: (err as Error).message, tails: fleet.tails() };
  } finally {
    await fleet.close();
  }
}
