// Runs rollouts: a reconcile loop over what SQLite says, so a restarted
// controller simply carries on. Each pass plans and profiles per device class,
// chooses per device, deploys stage by stage through retained desired state,
// follows what the agents report, and rolls back what fails.
import type { Logger } from 'pino';
import type { CheckRequest, Desired } from '../../protocol/messages.js';
import type { Catalog, Candidate } from '../catalog/catalog.js';
import { BrokerUnavailableError, type DesiredRequest, type JobRequest } from '../fleet-link.js';
import { planStep } from '../planner.js';
import { DEFAULT_HEADROOM_PCT, choose, rankByObjective, withHeadroom } from '../policy.js';
import { nextGeneration, type LiveStateStore, type StoredProfile } from '../profiles.js';
import type { Device, Registry } from '../registry.js';
import { outcomeOf, ProfileJobs } from './profile-jobs.js';
import { deploySlots } from './rate.js';
import { stageSizes, validateSpec, SpecError, type RolloutSpec } from './spec.js';
import { RolloutConflictError, canTransition, TERMINAL, type DeviceState } from './states.js';
import type { Rollout, RolloutDevice, RolloutStore } from './store.js';

export interface RolloutDeps {
  store: RolloutStore;
  catalog: Catalog;
  registry: Registry;
  live: LiveStateStore;
  desired: { get(deviceId: string): Desired | undefined };
  profiles: { get(jobId: string, deviceId: string): StoredProfile | undefined; onResult(listener: (p: StoredProfile) => void): () => void };
  sendJob(deviceId: string, job: JobRequest): Promise<unknown>;
  setDesired(deviceId: string, desired: DesiredRequest): Promise<Desired>;
  /** The fleet link's news: a device's hello (on each of its connects) and the link's own reconnects. */
  /** The reference frames profile jobs of a model's candidates carry (the on-device check); none when undefined. */
  checkFrames?(modelId: string): Promise<CheckRequest | undefined>;
  link?: { onHello(listener: (deviceId: string) => void): () => void; onReconnect(listener: () => void): () => void };
  log: Logger;
  tickMs?: number;
}

const CLOSE_WAIT_MS = 5000;
const DEPLOYING: ReadonlySet<DeviceState> = new Set(['downloading', 'verifying', 'activating', 'health-check']);
const FAILED: ReadonlySet<DeviceState> = new Set(['failed', 'rolled-back', 'timed-out']);

function matchesTargets(device: Device, targets: RolloutSpec['targets']): boolean {
  if (targets === 'all') return true;
  if ('devices' in targets) return targets.devices.includes(device.id);
  return Object.entries(targets.labels).every(([k, v]) => device.labels[k] === v);
}

export class RolloutEngine {
  private timer?: NodeJS.Timeout;
  private running = false;
  /** Aborted rollouts a pass found with nothing left to do; they are never 'completed', and passes run every tick. */
  private readonly finished = new Set<string>();
  /** Desired states on their way ('rollout/device'): until the send settles, an abort cannot tell rolled back from cancelled. */
  private readonly sending = new Set<string>();
  private again = false;
  private closed = false;
  private readonly off: Array<() => void>;
  private readonly jobs: ProfileJobs;

  constructor(private readonly deps: RolloutDeps) {
    this.jobs = new ProfileJobs(deps);
    this.off = [
      deps.profiles.onResult((p) => {
        if (deps.store.setOutcome(p.jobId, outcomeOf(p), p.deviceId)) this.kick();
      }),
      // A device that (re)connects may have lost its job (an agent restart), or its answer went to a broker
      // nobody listened on yet: ask it now, not after deviceTimeoutS. It says hello once subscribed.
      ...(deps.link ? [deps.link.onHello((id) => void this.jobs.resendOpen(id))] : []),
      // A result the broker took while this controller was not subscribed is gone: ask again for every open job.
      ...(deps.link ? [deps.link.onReconnect(() => void this.jobs.resendOpen())] : []),
    ];
  }

  start(): void {
    this.timer = setInterval(() => this.kick(), this.deps.tickMs ?? 1000);
    // Jobs in flight when the controller stopped: ask again (same job id: the agent answers from its stored result).
    void this.jobs.resendOpen();
    this.kick();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    for (const off of this.off) off();
    // A pass may wait on a publish that went out just before the broker did, until the broker is back;
    // SQLite holds every decision and passes are idempotent, so a stop waits for it a few seconds only.
    const deadline = Date.now() + CLOSE_WAIT_MS;
    while (this.running && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  }

  /** Validates a spec against the catalog and the fleet, stores the rollout and starts it. */
  create(specInput: unknown): Rollout {
    const named = validateSpec(specInput);
    const model = this.deps.catalog.requireModel(named.model);
    // Pin the model by id: a newer model of the same name must not change a running rollout's ladder.
    const spec = { ...named, model: model.id };
    const ladder = this.ladderOf(spec);
    if (ladder.length === 0) throw new SpecError(`rollout spec model: '${model.id}' has no candidates yet (its ladder is still building, or failed: see 'edgefit models')`);
    const devices = this.deps.registry.list().filter((d) => matchesTargets(d, spec.targets));
    if (typeof spec.targets === 'object' && 'devices' in spec.targets) {
      const missing = spec.targets.devices.filter((id) => !devices.some((d) => d.id === id));
      if (missing.length) throw new SpecError(`rollout spec targets.devices: no device ${missing.map((m) => `'${m}'`).join(', ')}`);
    }
    if (devices.length === 0) throw new SpecError('rollout spec targets: no registered device matches');
    // Two rollouts on one device would overwrite each other's desired state and read each other's reports as their own.
    const held = this.deps.store.activeRolloutsOf(devices.map((d) => d.id));
    if (held.length) {
      const first = held[0];
      const more = held.length > 1 ? ` (and ${held.length - 1} more device(s))` : '';
      throw new RolloutConflictError(`device '${first.deviceId}' is already in rollout ${first.rolloutId} (${first.state})${more}: abort that rollout or wait for it to finish`);
    }
    const sizes = stageSizes(devices.length, spec.stages);
    const staged: Array<{ deviceId: string; deviceClass: string | null; stage: number }> = [];
    let i = 0;
    sizes.forEach((size, stage) => {
      for (let k = 0; k < size; k++, i++) staged.push({ deviceId: devices[i].id, deviceClass: devices[i].deviceClass, stage });
    });
    const rollout = this.deps.store.create(spec, staged);
    this.deps.log.info({ rollout: rollout.id, devices: staged.length, stages: sizes }, 'rollout created');
    this.kick();
    return rollout;
  }

  pause(id: string): Rollout {
    return this.setState(id, 'paused', ['running']);
  }

  resume(id: string): Rollout {
    return this.setState(id, 'running', ['paused']);
  }

  abort(id: string, reason = 'aborted by the operator'): Rollout {
    const rollout = this.setState(id, 'aborted', ['running', 'paused'], reason);
    this.settleAborted(rollout);
    return rollout;
  }

  private setState(id: string, state: Rollout['state'], from: Array<Rollout['state']>, reason?: string): Rollout {
    const rollout = this.deps.store.get(id);
    if (!rollout) throw new SpecError(`no rollout '${id}'`);
    if (!this.deps.store.setState(id, state, reason ?? null, from)) {
      const now = this.deps.store.get(id)!.state;
      const done = { paused: 'paused', running: 'resumed', aborted: 'aborted', completed: 'completed' }[state];
      throw new RolloutConflictError(now === state ? `rollout '${id}' is already ${now}` : `rollout '${id}' is ${now}: it cannot be ${done}`);
    }
    this.kick();
    return this.deps.store.get(id)!;
  }

  /** The rollout's state now: a pass holds a copy read before its awaits, during which an operator may pause or abort. */
  private stillRunning(id: string): boolean {
    return this.deps.store.get(id)?.state === 'running';
  }

  private ladderOf(spec: RolloutSpec): Candidate[] {
    const all = this.deps.catalog.candidates(spec.model);
    if (!spec.candidates) return all;
    const unknown = spec.candidates.filter((id) => !all.some((c) => c.id === id || c.name === id));
    if (unknown.length) throw new SpecError(`rollout spec candidates: '${unknown[0]}' is not a candidate of ${spec.model}`);
    return all.filter((c) => spec.candidates!.includes(c.id) || spec.candidates!.includes(c.name));
  }

  /** Runs a reconcile pass soon; passes never overlap, and a request during one runs another after it. */
  kick(): void {
    if (this.closed) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    void (async () => {
      try {
        do {
          this.again = false;
          for (const r of this.deps.store.list()) {
            // a pass that outlived close() must not touch the database it closed
            if (this.closed) return;
            if (r.state === 'completed') continue;
            try {
              await this.reconcile(r);
            } catch (err) {
              this.deps.log.error({ rollout: r.id, err: (err as Error).message }, 'rollout pass failed');
            }
          }
        } while (this.again && !this.closed);
      } catch (err) {
        this.deps.log.error({ err: (err as Error).message }, 'rollout pass failed');
      } finally {
        this.running = false;
      }
    })();
  }

  private async reconcile(rollout: Rollout): Promise<void> {
    const { store, registry, desired } = this.deps;
    const spec = rollout.spec;
    if (this.finished.has(rollout.id)) return;
    for (const d of store.devices(rollout.id)) this.follow(rollout, d, registry.get(d.deviceId));
    if (rollout.state === 'aborted') {
      // Also settles a rollout that an older controller aborted, or one aborted just before a restart.
      this.settleAborted(rollout);
      await this.repointFailed(rollout);
      const devices = store.devices(rollout.id);
      if (devices.every((d) => TERMINAL.has(d.state) && desired.get(d.deviceId)?.rolloutId !== rollout.id) && store.measurements(rollout.id).every((m) => m.outcome !== null)) this.finished.add(rollout.id);
      return;
    }
    await this.repointFailed(rollout);
    if (!this.stillRunning(rollout.id)) return;

    const devices = store.devices(rollout.id);
    const upfront = spec.profile.beforeDeploy === 'all';
    await this.plan(rollout, upfront ? devices : devices.filter((d) => d.stage <= rollout.stage));
    const planned = store.devices(rollout.id);
    const choosing = upfront && planned.some((d) => (d.state === 'pending' || d.state === 'profiling') && registry.get(d.deviceId)?.online);
    if (!choosing) await this.deploy(rollout, planned.filter((d) => d.stage <= rollout.stage));
    if (!this.stillRunning(rollout.id)) return;

    // Failure accounting: a canary failure aborts; later, the failure share after enough devices.
    const now = store.devices(rollout.id);
    const final = now.filter((d) => FAILED.has(d.state) && d.attempts >= spec.retries);
    const canaryFailed = final.find((d) => d.stage === 0);
    const decided = now.filter((d) => TERMINAL.has(d.state));
    if (canaryFailed) return void this.abort(rollout.id, `canary ${canaryFailed.deviceId} ${canaryFailed.state}: ${canaryFailed.error ?? 'no reason given'}`);
    if (decided.length >= spec.abort.minDevices && (final.length / decided.length) * 100 > spec.abort.failurePct) {
      return void this.abort(rollout.id, `${final.length} of ${decided.length} device(s) failed (over ${spec.abort.failurePct} %)`);
    }
    const stageDone = (s: number) => now.filter((d) => d.stage === s).every((d) => TERMINAL.has(d.state) || d.state === 'offline');
    const lastStage = Math.max(...now.map((d) => d.stage));
    if (rollout.stage < lastStage && stageDone(rollout.stage)) {
      store.setStage(rollout.id, rollout.stage + 1);
      this.kick();
    } else if (now.every((d) => TERMINAL.has(d.state))) {
      store.setState(rollout.id, 'completed', `${now.filter((d) => d.state === 'healthy').length} of ${now.length} device(s) healthy`, ['running']);
    }
  }

  /** Presence, agent reports and timeouts move a device along its state machine. */
  private follow(rollout: Rollout, d: RolloutDevice, device: Device | undefined): void {
    const { store, live } = this.deps;
    const to = (state: DeviceState, patch: Parameters<RolloutStore['transition']>[3] = {}, detail?: string) => {
      if (canTransition(d.state, state, d.resumeState)) d = store.transition(rollout.id, d.deviceId, state, patch, detail);
    };
    if (!d.deviceClass && device?.deviceClass) d = store.patch(rollout.id, d.deviceId, { deviceClass: device.deviceClass });
    const online = device?.online ?? false;
    if (d.state === 'offline' && online && d.resumeState) to(d.resumeState, {}, 'back online: resuming');
    else if (!online && !TERMINAL.has(d.state) && d.state !== 'offline' && d.state !== 'pending') to('offline', {}, 'device went offline');
    if (d.state === 'offline') return;

    const reported = live.get(d.deviceId).reported;
    if (reported && d.generation !== null && reported.generation === d.generation && reported.rolloutId === rollout.id) {
      const s = reported.state;
      if (s === 'failed' || s === 'rolled-back') to(s, { error: reported.error ?? `device reported ${s}` });
      else if (s !== 'idle' && s !== d.state) to(s, {}, `device reported ${s}`);
    }
    const timeoutMs = rollout.spec.deviceTimeoutS * 1000;
    if ((DEPLOYING.has(d.state) || (d.state === 'chosen' && d.generation !== null)) && Date.now() - d.stateSince > timeoutMs) {
      to('timed-out', { error: `no progress in ${rollout.spec.deviceTimeoutS} s while ${d.state}` });
    }
    if (rollout.state === 'running' && (d.state === 'failed' || d.state === 'timed-out') && d.attempts < rollout.spec.retries) {
      to('pending', { attempts: d.attempts + 1, generation: null, error: null }, `retry ${d.attempts + 1} of ${rollout.spec.retries}`);
    }
  }

  /**
   * Per class: the next measurement, or the choice for every waiting device of
   * the class; at most `profile.concurrency` profiles in flight in the rollout.
   */
  private async plan(rollout: Rollout, active: RolloutDevice[]): Promise<void> {
    const { store, registry } = this.deps;
    const ladder = this.ladderOf(rollout.spec);
    const waiting = active.filter((d) => d.state === 'pending' || d.state === 'profiling');
    const classes = new Set(waiting.map((d) => d.deviceClass).filter((c): c is string => c !== null));
    const headroom = rollout.spec.slo.headroomPct ?? DEFAULT_HEADROOM_PCT;
    const slo = withHeadroom(rollout.spec.slo, headroom);
    const limit = rollout.spec.profile.concurrency ?? Infinity;
    let inFlight = store.measurements(rollout.id).filter((m) => m.outcome === null).length;
    for (const deviceClass of classes) {
      // An abort during the previous class's send has already settled these devices.
      if (!this.stillRunning(rollout.id)) return;
      const measurements = store.measurements(rollout.id, deviceClass);
      const timeoutMs = rollout.spec.deviceTimeoutS * 1000;
      for (const m of measurements) {
        if (m.outcome === null && Date.now() - m.sentAt > timeoutMs) store.setOutcome(m.jobId, { ok: false, error: `no result within ${rollout.spec.deviceTimeoutS} s` });
      }
      const fresh = store.measurements(rollout.id, deviceClass);
      if (fresh.some((m) => m.outcome === null)) {
        for (const d of waiting.filter((x) => x.deviceClass === deviceClass && x.state === 'pending')) store.transition(rollout.id, d.deviceId, 'profiling', {}, 'class is being profiled');
        continue;
      }
      const measured = new Map(fresh.map((m) => [m.candidateId, m.outcome!] as const));
      const members = waiting.filter((d) => d.deviceClass === deviceClass);
      if (rollout.spec.skipProfiling) {
        const top = rankByObjective(ladder, new Map())[0];
        const explanation = `${top.name}: deployed without profiling (the spec sets skipProfiling); the service level is checked only by the device's health check.`;
        for (const d of members) store.transition(rollout.id, d.deviceId, 'chosen', { candidateId: top.id, choice: { candidateId: top.id, name: top.name, mode: 'accuracy', metrics: null, rejected: [], explanation } }, explanation);
        continue;
      }
      const step = planStep(ladder, slo, measured);
      if (step.kind === 'measure') {
        const candidate = ladder.find((c) => c.id === step.candidateId)!;
        const profiler = members.find((d) => registry.get(d.deviceId)?.online);
        if (!profiler || inFlight >= limit || !this.stillRunning(rollout.id)) continue;
        inFlight++;
        const jobId = `${rollout.id}:${deviceClass}:${candidate.name}`.slice(0, 128);
        store.addMeasurement(rollout.id, { deviceClass, candidateId: candidate.id, jobId, deviceId: profiler.deviceId, sentAt: Date.now() });
        for (const d of members.filter((x) => x.state === 'pending')) store.transition(rollout.id, d.deviceId, 'profiling', {}, `profiling ${candidate.name} on ${profiler.deviceId}: ${step.why}`);
        await this.jobs.send(rollout, profiler.deviceId, candidate, jobId).catch((err: Error) => {
          // the reconnect asks again for every open profile; anything else will not mend by waiting
          if (!(err instanceof BrokerUnavailableError)) store.setOutcome(jobId, { ok: false, error: `cannot send the job: ${err.message}` });
        });
        continue;
      }
      const choice = choose(ladder, step.evidence, slo);
      const note = `${choice.explanation} Bounds include ${headroom}% headroom for serving overhead. Planner: ${step.profiles} profile(s) for this class against ${step.exhaustive} for exhaustive profiling.`;
      const full = { ...choice, explanation: note, profiles: step.profiles, exhaustive: step.exhaustive };
      for (const d of members) {
        if (choice.candidateId === null) store.transition(rollout.id, d.deviceId, 'failed', { choice: full, error: choice.explanation, attempts: rollout.spec.retries });
        else store.transition(rollout.id, d.deviceId, 'chosen', { choice: full, candidateId: choice.candidateId }, note);
      }
    }
  }

  /** Chosen devices get their desired state, as fast as the rollout rate allows. */
  private async deploy(rollout: Rollout, active: RolloutDevice[]): Promise<void> {
    const { store, registry, catalog, desired } = this.deps;
    const inFlight = active.filter((d) => DEPLOYING.has(d.state) || (d.state === 'chosen' && d.generation !== null)).length;
    // Stored with each device, so neither a rollback, a retry nor a controller restart forgets a send.
    const sentAt = store.devices(rollout.id).flatMap((d) => (d.sentAt === null ? [] : [d.sentAt]));
    let slots = deploySlots(rollout.spec.rate, inFlight, sentAt, Date.now());
    for (const d of active.filter((x) => x.state === 'chosen' && x.generation === null)) {
      if (slots <= 0 || !this.stillRunning(rollout.id)) break;
      if (!registry.get(d.deviceId)?.online) continue;
      const c = d.candidateId ? catalog.getCandidate(d.candidateId) : undefined;
      const artifact = c && catalog.artifacts.get(c.sha256);
      if (!c || !artifact) {
        store.transition(rollout.id, d.deviceId, 'failed', { error: `candidate ${d.candidateId} is gone from the catalog` });
        continue;
      }
      const previous = desired.get(d.deviceId) ?? null;
      // Persist what the device ran and which generation it will get before the device can hear of it;
      // the send publishes that very generation, so a controller killed mid-send remembers the right one.
      const keep = previous?.rolloutId === rollout.id ? d.previousDesired : previous;
      const generation = nextGeneration(previous, this.deps.live.get(d.deviceId).reported);
      store.patch(rollout.id, d.deviceId, { previousDesired: keep, generation });
      const key = `${rollout.id}/${d.deviceId}`;
      this.sending.add(key);
      try {
        const sent = await this.deps.setDesired(d.deviceId, { generation, model: artifact.ref, candidateId: c.id, rolloutId: rollout.id, slo: { minFps: rollout.spec.slo.minFps, maxP95Ms: rollout.spec.slo.maxP95Ms, maxMemoryMb: rollout.spec.slo.maxMemoryMb, maxTempC: rollout.spec.slo.maxTempC }, ...(rollout.spec.profile.threads ? { threads: rollout.spec.profile.threads } : {}) });
        store.patch(rollout.id, d.deviceId, { generation: sent.generation, sentAt: sent.ts });
        slots--;
      } catch (err) {
        store.patch(rollout.id, d.deviceId, { generation: null });
        this.deps.log.warn({ device: d.deviceId, err: (err as Error).message }, 'cannot set desired state');
      } finally {
        // an abort that came meanwhile settles this device on the pass it queued
        this.sending.delete(key);
      }
    }
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
  private settleAborted(rollout: Rollout): void {
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
  private async repointFailed(rollout: Rollout): Promise<void> {
    const { store, desired } = this.deps;
    for (const d of store.devices(rollout.id)) {
      const final = FAILED.has(d.state) && (d.attempts >= rollout.spec.retries || rollout.state === 'aborted');
      if (!final) continue;
      const current = desired.get(d.deviceId);
      if (!current || current.rolloutId !== rollout.id || current.candidateId !== d.candidateId || !current.model) continue;
      if (d.state !== 'rolled-back') store.transition(rollout.id, d.deviceId, 'rolled-back', {}, `rolling back after ${d.state}`);
      const prev = d.previousDesired;
      try {
        await this.deps.setDesired(d.deviceId, prev ? { model: prev.model, ...(prev.candidateId ? { candidateId: prev.candidateId } : {}), ...(prev.rolloutId ? { rolloutId: prev.rolloutId } : {}), slo: prev.slo, ...(prev.threads ? { threads: prev.threads } : {}) } : { model: null });
        this.deps.log.info({ rollout: rollout.id, device: d.deviceId, to: prev?.candidateId ?? null }, 'device rolled back to its previous model');
      } catch (err) {
        this.deps.log.warn({ device: d.deviceId, err: (err as Error).message }, 'rollback desired state not sent; will retry');
      }
    }
  }
}
