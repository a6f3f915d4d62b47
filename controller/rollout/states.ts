// A device in a rollout (see DESIGN.md): pending → profiling → chosen →
// downloading → verifying → activating → health-check → healthy, with failed,
// rolled-back, timed-out and offline as exits. Offline resumes where it was.
// Cancelled ends a device an aborted rollout never deployed to: it runs what it
// ran before, neither healthy nor failed.
import { EdgefitError } from '../../protocol/errors.js';

export const DEVICE_STATES = ['pending', 'profiling', 'chosen', 'downloading', 'verifying', 'activating', 'health-check', 'healthy', 'failed', 'rolled-back', 'timed-out', 'offline', 'cancelled'] as const;
export type DeviceState = (typeof DEVICE_STATES)[number];

/** States a device stays in when the rollout is over. */
export const TERMINAL: ReadonlySet<DeviceState> = new Set(['healthy', 'failed', 'rolled-back', 'timed-out', 'cancelled']);
/** Waiting for the class's choice. */
export const CHOOSING: ReadonlySet<DeviceState> = new Set(['pending', 'profiling']);
/** Given the model and on its way to healthy (a 'chosen' device with a generation was sent its desired state too). */
export const DEPLOYING: ReadonlySet<DeviceState> = new Set(['downloading', 'verifying', 'activating', 'health-check']);
/** Failed exits; a retry may still start the device over. */
export const FAILED: ReadonlySet<DeviceState> = new Set(['failed', 'rolled-back', 'timed-out']);
/** The deployment steps the agent reports, in order. */
export const DEPLOY_STEPS = ['downloading', 'verifying', 'activating', 'health-check', 'healthy'] as const;

const FORWARD: Record<DeviceState, readonly DeviceState[]> = {
  pending: ['profiling', 'chosen', 'cancelled'],
  profiling: ['chosen', 'cancelled'],
  chosen: ['downloading', 'verifying', 'activating', 'health-check', 'healthy', 'cancelled'],
  downloading: ['verifying', 'activating', 'health-check', 'healthy'],
  verifying: ['activating', 'health-check', 'healthy'],
  activating: ['health-check', 'healthy'],
  'health-check': ['healthy'],
  healthy: ['rolled-back'],
  // A retry starts the device over; a failed one may still be rolled back to its previous model.
  failed: ['pending', 'rolled-back'],
  'timed-out': ['pending', 'rolled-back'],
  'rolled-back': [],
  offline: [],
  cancelled: [],
};

/**
 * Whether `from → to` is a step of the state machine. Any live state may exit
 * to failed, rolled-back, timed-out or offline; offline goes back to the state
 * it left (`resume`). Agent reports may skip steps (a fast download), never go back.
 * Only a device not yet deployed to (pending, profiling, chosen, or offline) is
 * cancelled; one that got the model is rolled back instead.
 */
export function canTransition(from: DeviceState, to: DeviceState, resume?: DeviceState | null): boolean {
  if (from === to) return false;
  if (from === 'offline') return to === resume || to === 'failed' || to === 'rolled-back' || to === 'timed-out' || to === 'pending' || to === 'cancelled';
  if (!TERMINAL.has(from) && (to === 'failed' || to === 'rolled-back' || to === 'timed-out' || to === 'offline')) return true;
  return FORWARD[from].includes(to);
}

export function assertTransition(from: DeviceState, to: DeviceState, resume?: DeviceState | null): void {
  if (!canTransition(from, to, resume)) throw new EdgefitError('E_TRANSITION', { from, to });
}

export const ROLLOUT_STATES = ['running', 'paused', 'completed', 'aborted'] as const;
export type RolloutState = (typeof ROLLOUT_STATES)[number];
/** A rollout in these states still owns its devices' desired state. */
export const ACTIVE_ROLLOUT_STATES: readonly RolloutState[] = ['running', 'paused'];

/**
 * Whether a running or paused rollout may still change this device's desired
 * state. A device that is healthy, rolled back, cancelled, or out of retries
 * is done with, even while one offline device keeps the rollout itself running.
 */
export function holdsDevice(state: DeviceState, attempts: number, retries: number): boolean {
  if (state === 'healthy' || state === 'rolled-back' || state === 'cancelled') return false;
  if (state === 'failed' || state === 'timed-out') return attempts < retries;
  return true;
}
