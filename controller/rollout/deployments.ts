// The desired states of rollouts, at the MQTT edge: chosen devices given
// their model as fast as the rollout rate allows, failed ones pointed back at
// what they ran before, and an aborted rollout's devices settled. Every
// decision is persisted before the send, so a controller killed mid-send
// remembers it.
import type { Logger } from 'pino';
import type { Desired } from '../../protocol/messages.js';
import type { Catalog } from '../catalog/catalog.js';
import type { DesiredRequest } from '../fleet-link.js';
import { nextGeneration, type LiveStateStore } from '../profiles.js';
import type { Registry } from '../registry.js';
import { deploySlots } from './rate.js';
import { canTransition, DEPLOYING, FAILED } from './states.js';
import type { Rollout, RolloutDevice, RolloutStore } from './store.js';

export interface DeploymentDeps {
  store: RolloutStore;
  catalog: Catalog;
  registry: Registry;
  live: LiveStateStore;
  desired: { get(deviceId: string): Desired | undefined };
  setDesired(deviceId: string, desired: DesiredRequest): Promise<Desired>;
  log: Logger;
}

type Put = (d: RolloutDevice) => RolloutDevice;

/** The most desired states published at once in a deploy pass (see deploy). */
const SEND_WINDOW = 200;

/** The desired state of a chosen device: its candidate, served on the provider it was profiled on with the same options. */
export function desiredFor(rollout: Rollout, d: RolloutDevice, candidateId: string, model: Desired['model'], generation: number): DesiredRequest {
  const { slo, profile, providerOptions } = rollout.spec;
  const options = d.ep ? providerOptions?.[d.ep] : undefined;
  return {
    generation,
    model,
    candidateId,
    rolloutId: rollout.id,
    slo: { minFps: slo.minFps, maxP95Ms: slo.maxP95Ms, maxMemoryMb: slo.maxMemoryMb, maxTempC: slo.maxTempC },
    ...(profile.threads ? { threads: profile.threads } : {}),
    ...(d.ep ? { ep: d.ep } : {}),
    ...(options ? { providerOptions: options } : {}),
  };
}

export class Deployments {
  /** Desired states on their way ('rollout/device'): until the send settles, an abort cannot tell rolled back from cancelled. */
  private readonly sending = new Set<string>();

  /** `stillRunning`: the rollout's state now, read again after each await (an operator may pause or abort meanwhile). */
  constructor(
    private readonly deps: DeploymentDeps,
    private readonly stillRunning: (rolloutId: string) => boolean,
  ) {}

  /** Chosen devices get their desired state, as fast as the rollout rate allows. */
  async deploy(rollout: Rollout, devices: RolloutDevice[], put: Put): Promise<void> {
    const { store, registry, catalog, desired } = this.deps;
    const active = devices.filter((d) => d.stage <= rollout.stage);
    const inFlight = active.filter((d) => DEPLOYING.has(d.state) || (d.state === 'chosen' && d.generation !== null)).length;
    // Stored with each device, so neither a rollback, a retry nor a controller restart forgets a send.
    const sentAt = devices.flatMap((d) => (d.sentAt === null ? [] : [d.sentAt]));
    let slots = deploySlots(rollout.spec.rate, inFlight, sentAt, Date.now());
    // Sends go out SEND_WINDOW at a time: one awaited PUBACK per device held the fan-out to 20 devices a
    // second at 1,000 devices on a loaded 2-core box (each await waits out a turn of a busy event loop);
    // so, 156 to 2,500 a second per stage there (bench/fleet-scale).
    // The window opens as TCP's slow start does, 1, 2, 4 … SEND_WINDOW, and closes to 1 after a failed send:
    // an operator's abort during the first send stops the pass before any other device gets the candidate,
    // and a dead broker costs one failed send, not 200 (test/controller/boundaries.test.ts).
    let window: Array<Promise<void>> = [];
    let windowSize = 1;
    let failed = false;
    for (const d of active.filter((x) => x.state === 'chosen' && x.generation === null)) {
      if (slots <= 0 || !this.stillRunning(rollout.id)) break;
      if (!registry.get(d.deviceId)?.online) continue;
      const c = d.candidateId ? catalog.getCandidate(d.candidateId) : undefined;
      const artifact = c && catalog.artifacts.get(c.sha256);
      if (!c || !artifact) {
        put(store.transition(rollout.id, d.deviceId, 'failed', { error: `candidate ${d.candidateId} is gone from the catalog` }));
        continue;
      }
      const previous = desired.get(d.deviceId) ?? null;
      // Persist what the device ran and which generation it will get before the device can hear of it;
      // the send publishes that very generation, so a controller killed mid-send remembers the right one.
      const keep = previous?.rolloutId === rollout.id ? d.previousDesired : previous;
      const generation = nextGeneration(previous, this.deps.live.get(d.deviceId).reported);
      put(store.patch(rollout.id, d.deviceId, { previousDesired: keep, generation }));
      const key = `${rollout.id}/${d.deviceId}`;
      this.sending.add(key);
      // the slot is taken when the send starts; one that fails is given back to the next pass
      slots--;
      window.push(
        this.deps.setDesired(d.deviceId, desiredFor(rollout, d, c.id, artifact.ref, generation)).then(
          (sent) => void put(store.patch(rollout.id, d.deviceId, { generation: sent.generation, sentAt: sent.ts })),
          (err: Error) => {
            put(store.patch(rollout.id, d.deviceId, { generation: null }));
            failed = true;
            this.deps.log.warn({ device: d.deviceId, err: err.message }, 'cannot set desired state');
          },
        ).finally(() => {
          // an abort that came meanwhile settles this device on the pass it queued
          this.sending.delete(key);
        }),
      );
      if (window.length >= windowSize) {
        await Promise.all(window);
        window = [];
        windowSize = failed ? 1 : Math.min(SEND_WINDOW, windowSize * 2);
        failed = false;
      }
    }
    await Promise.all(window);
  }

  /**
   * Ends every device of an aborted rollout. One it deployed to (it holds a
   * desired generation, or a retry left this rollout's desired state on it)
   * goes back to what it ran before; one it never deployed to is cancelled, so
   * nothing looks as if work were still going on; a profile still out is
   * settled, so nothing waits on it. One whose send is still out waits for
   * the next pass. Idempotent and silent when there is nothing to do:
   * reconcile runs it on every pass over an aborted rollout.
   */
  settleAborted(rollout: Rollout): void {
    const { store, desired } = this.deps;
    const reason = `rollout aborted: ${rollout.reason ?? 'no reason given'}`;
    for (const m of store.measurements(rollout.id)) {
      if (m.outcome === null) store.setOutcome(m.jobId, { ok: false, error: `not measured: ${reason}` }, m.deviceId);
    }
    for (const d of store.devices(rollout.id)) {
      if (this.sending.has(`${rollout.id}/${d.deviceId}`)) continue;
      if (d.generation !== null || desired.get(d.deviceId)?.rolloutId === rollout.id) {
        if (d.state !== 'rolled-back' && canTransition(d.state, 'rolled-back', d.resumeState)) store.transition(rollout.id, d.deviceId, 'rolled-back', { error: d.error ?? reason }, reason);
      } else if (canTransition(d.state, 'cancelled', d.resumeState)) {
        const was = d.state === 'offline' ? ` (offline while ${d.resumeState ?? 'pending'})` : '';
        store.transition(rollout.id, d.deviceId, 'cancelled', { error: `not deployed: ${reason}` }, `not deployed${was}: ${reason}`);
      }
    }
  }

  /**
   * A device that failed or was rolled back must not keep a desired state
   * naming this rollout's candidate (it would retry it at every restart):
   * point it back at what it ran before. Idempotent, so it also finishes a
   * rollback a controller restart interrupted.
   */
  async repointFailed(rollout: Rollout, devices: RolloutDevice[], put: Put = (d) => d): Promise<void> {
    const { store, desired } = this.deps;
    for (const d of devices) {
      const final = FAILED.has(d.state) && (d.attempts >= rollout.spec.retries || rollout.state === 'aborted');
      if (!final) continue;
      const current = desired.get(d.deviceId);
      if (!current || current.rolloutId !== rollout.id || current.candidateId !== d.candidateId || !current.model) continue;
      if (d.state !== 'rolled-back') put(store.transition(rollout.id, d.deviceId, 'rolled-back', {}, `rolling back after ${d.state}`));
      const prev = d.previousDesired;
      try {
        await this.deps.setDesired(d.deviceId, prev ? { model: prev.model, ...(prev.candidateId ? { candidateId: prev.candidateId } : {}), ...(prev.rolloutId ? { rolloutId: prev.rolloutId } : {}), slo: prev.slo, ...(prev.threads ? { threads: prev.threads } : {}), ...(prev.ep ? { ep: prev.ep } : {}), ...(prev.providerOptions ? { providerOptions: prev.providerOptions } : {}) } : { model: null });
        this.deps.log.info({ rollout: rollout.id, device: d.deviceId, to: prev?.candidateId ?? null }, 'device rolled back to its previous model');
      } catch (err) {
        this.deps.log.warn({ device: d.deviceId, err: (err as Error).message }, 'rollback desired state not sent; will retry');
      }
    }
  }
}
