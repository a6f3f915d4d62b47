import { describe, expect, it } from 'vitest';
import { stageVerdict, type StageDevice } from '../../controller/stage-verdict.js';
import type { DeviceState } from '../../controller/rollout/states.js';

const dev = (deviceId: string, stage: number, state: DeviceState, attempts = 0, error: string | null = null): StageDevice => ({ deviceId, stage, state, attempts, error });
const policy = (retries = 0, failurePct = 20, minDevices = 1) => ({ retries, abort: { failurePct, minDevices } });

describe('stageVerdict', () => {
  it('aborts on a canary that failed for good, naming it and its error; a canary with a retry left does not abort', () => {
    const devices = [dev('c', 0, 'timed-out', 0, 'no progress in 60 s'), dev('a', 1, 'pending')];
    expect(stageVerdict(devices, policy(), 0)).toEqual({ kind: 'abort', reason: 'canary c timed-out: no progress in 60 s' });
    // retries 1, attempts 0: not final, the engine starts the canary over instead
    expect(stageVerdict(devices, policy(1), 0).kind).not.toBe('abort');
  });

  it('aborts once the failure share of the decided devices exceeds failurePct, and only after minDevices are decided', () => {
    // 5 decided, 2 failed for good: 40 % > 30 %
    const devices = [dev('c', 0, 'healthy'), dev('a', 1, 'healthy'), dev('b', 1, 'failed', 0, 'x'), dev('d', 1, 'rolled-back'), dev('e', 1, 'healthy'), dev('f', 1, 'downloading')];
    expect(stageVerdict(devices, policy(0, 30), 1)).toEqual({ kind: 'abort', reason: '2 of 5 device(s) failed (over 30 %)' });
    // exactly 40 % is not over 40 %
    expect(stageVerdict(devices, policy(0, 40), 1)).toEqual({ kind: 'wait' });
    // 6 decided devices are needed before the share counts
    expect(stageVerdict(devices, policy(0, 30, 6), 1)).toEqual({ kind: 'wait' });
  });

  it('opens the next stage when every device of this one is decided or offline, and not before', () => {
    const devices = [dev('c', 0, 'healthy'), dev('a', 1, 'pending'), dev('b', 2, 'pending')];
    expect(stageVerdict(devices, policy(), 0)).toEqual({ kind: 'advance', stage: 1 });
    expect(stageVerdict([dev('c', 0, 'health-check'), ...devices.slice(1)], policy(), 0)).toEqual({ kind: 'wait' });
    expect(stageVerdict([dev('c', 0, 'offline'), ...devices.slice(1)], policy(), 0)).toEqual({ kind: 'advance', stage: 1 });
    expect(stageVerdict([devices[0], dev('a', 1, 'healthy'), devices[2]], policy(), 1)).toEqual({ kind: 'advance', stage: 2 });
  });

  it('completes when every device is decided in the last stage, counting the healthy ones; an offline one keeps it open', () => {
    const devices = [dev('c', 0, 'healthy'), dev('a', 1, 'healthy'), dev('b', 1, 'cancelled')];
    expect(stageVerdict(devices, policy(), 1)).toEqual({ kind: 'complete', reason: '2 of 3 device(s) healthy' });
    expect(stageVerdict([...devices.slice(0, 2), dev('b', 1, 'offline')], policy(), 1)).toEqual({ kind: 'wait' });
  });
});
