// The verdict on a rollout's stage, pure: from its devices, the spec's
// retries and abort rule and the current stage, whether to abort (a canary
// out of retries, or the failure share over the bound once enough devices are
// decided), open the next stage, complete, or wait.
import { FAILED, TERMINAL, type DeviceState } from './rollout/states.js';

export interface StageDevice {
  deviceId: string;
  stage: number;
  state: DeviceState;
  attempts: number;
  error: string | null;
}

export interface StagePolicy {
  retries: number;
  abort: { failurePct: number; minDevices: number };
}

export type StageVerdict = { kind: 'abort'; reason: string } | { kind: 'advance'; stage: number } | { kind: 'complete'; reason: string } | { kind: 'wait' };

export function stageVerdict(devices: readonly StageDevice[], policy: StagePolicy, stage: number): StageVerdict {
  // A device counts as failed for good once it has used its retries.
  const final = devices.filter((d) => FAILED.has(d.state) && d.attempts >= policy.retries);
  const canaryFailed = final.find((d) => d.stage === 0);
  if (canaryFailed) return { kind: 'abort', reason: `canary ${canaryFailed.deviceId} ${canaryFailed.state}: ${canaryFailed.error ?? 'no reason given'}` };
  const decided = devices.filter((d) => TERMINAL.has(d.state));
  if (decided.length >= policy.abort.minDevices && (final.length / decided.length) * 100 > policy.abort.failurePct) {
    return { kind: 'abort', reason: `${final.length} of ${decided.length} device(s) failed (over ${policy.abort.failurePct} %)` };
  }
  // An offline device does not hold its stage back: it resumes where it was when it comes back.
  const stageDone = devices.filter((d) => d.stage === stage).every((d) => TERMINAL.has(d.state) || d.state === 'offline');
  const lastStage = Math.max(...devices.map((d) => d.stage));
  if (stage < lastStage && stageDone) return { kind: 'advance', stage: stage + 1 };
  if (devices.every((d) => TERMINAL.has(d.state))) return { kind: 'complete', reason: `${devices.filter((d) => d.state === 'healthy').length} of ${devices.length} device(s) healthy` };
  return { kind: 'wait' };
}
