// Which registered devices a rollout spec targets, and in which stage each
// one is, pure: the engine stores what these say when it creates a rollout.
import type { Device } from '../registry.js';
import { SpecError, stageSizes, type RolloutSpec } from './spec.js';

function matchesTargets(device: Device, targets: RolloutSpec['targets']): boolean {
  if (targets === 'all') return true;
  if ('devices' in targets) return targets.devices.includes(device.id);
  return Object.entries(targets.labels).every(([k, v]) => device.labels[k] === v);
}

/** The targeted devices in registry order; a named device that is not registered, or no match at all, is a spec error. */
export function targetDevices(registered: readonly Device[], targets: RolloutSpec['targets']): Device[] {
  const devices = registered.filter((d) => matchesTargets(d, targets));
  if (typeof targets === 'object' && 'devices' in targets) {
    const missing = targets.devices.filter((id) => !devices.some((d) => d.id === id));
    if (missing.length) throw new SpecError(`rollout spec targets.devices: no device ${missing.map((m) => `'${m}'`).join(', ')}`);
  }
  if (devices.length === 0) throw new SpecError('rollout spec targets: no registered device matches');
  return devices;
}

/** The devices in order, split into the canary and the phases (see stageSizes). */
export function staging(devices: readonly Device[], stages: RolloutSpec['stages']): Array<{ deviceId: string; deviceClass: string | null; stage: number }> {
  const staged: Array<{ deviceId: string; deviceClass: string | null; stage: number }> = [];
  let i = 0;
  stageSizes(devices.length, stages).forEach((size, stage) => {
    for (let k = 0; k < size; k++, i++) staged.push({ deviceId: devices[i].id, deviceClass: devices[i].deviceClass, stage });
  });
  return staged;
}
