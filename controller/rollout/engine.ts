// Runs rollouts: a reconcile loop over what SQLite says, so a restarted
// controller simply carries on. Each pass follows what the agents report,
// plans and profiles per device class, chooses per device, deploys stage by
// stage through retained desired state, and rolls back what fails. The
// decisions are pure (class-plan.ts, stage-verdict.ts, targets.ts); the MQTT
// edges are profile-jobs.ts and deployments.ts.
import type { Logger } from 'pino';
import type { CheckRequest, Desired, ExecutionProvider } from '../../protocol/messages.js';
import type { Catalog, Candidate } from '../catalog/catalog.js';
import { BrokerUnavailableError, type DesiredRequest, type JobRequest } from '../fleet-link.js';
import { planClass } from '../class-plan.js';
import type { LatencyHints } from '../planner.js';
import { choiceOfPair, classProviders, pairId, pairLadder } from '../provider-pairs.js';
import { DEFAULT_HEADROOM_PCT, withHeadroom } from '../policy.js';
import { stageVerdict } from '../stage-verdict.js';
import type { LiveStateStore, StoredProfile } from '../profiles.js';
import type { Device, Registry } from '../registry.js';
import { outcomeOf, ProfileJobs } from './profile-jobs.js';
import { Deployments } from './deployments.js';
import { stageSizes, validateSpec, SpecError, type RolloutSpec } from './spec.js';
import { staging, targetDevices } from './targets.js';
import { CHOOSING, DEPLOYING, canTransition, TERMINAL, type DeviceState } from './states.js';
import type { Rollout, RolloutDevice, RolloutStore } from './store.js';
import { EdgefitError } from '../../protocol/errors.js';

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
  /** The class's latency predictor (latency-predictions.ts): orders and skips profiles once the class has op profiles. */
  latency?: { hints(deviceClass: string, ep: string, threads: number | null, candidates: ReadonlyArray<{ id: string; sha256: string }>): Promise<LatencyHints | undefined> };
  link?: { onHello(listener: (deviceId: string) => void): () => void; onReconnect(listener: () => void): () => void };
  log: Logger;
  tickMs?: number;
}

const CLOSE_WAIT_MS = 5000;

export class RolloutEngine {
  private timer?: NodeJS.Timeout;
  private running = false;
  /** Aborted rollouts a pass found with nothing left to do; they are never 'completed', and passes run every tick. */
  private readonly finished = new Set<string>();
  private again = false;
  private closed = false;
  private readonly off: Array<() => void>;
  private readonly jobs: ProfileJobs;
  private readonly deployments: Deployments;

  constructor(private readonly deps: RolloutDeps) {
    this.jobs = new ProfileJobs(deps);
    this.deployments = new Deployments(deps, (id) => this.stillRunning(id));
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
    const devices = targetDevices(this.deps.registry.list(), spec.targets);
    // Two rollouts on one device would overwrite each other's desired state and read each other's reports as their own.
    const held = this.deps.store.activeRolloutsOf(devices.map((d) => d.id));
    if (held.length) {
      const first = held[0];
      const more = held.length > 1 ? ` (and ${held.length - 1} more device(s))` : '';
      throw new EdgefitError('E_ROLLOUT_CONFLICT', { reason: `device '${first.deviceId}' is already in rollout ${first.rolloutId} (${first.state})${more}: abort that rollout or wait for it to finish` });
    }
    const staged = staging(devices, spec.stages);
    const rollout = this.deps.store.create(spec, staged);
    this.deps.log.info({ rollout: rollout.id, devices: staged.length, stages: stageSizes(devices.length, spec.stages) }, 'rollout created');
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
    this.deployments.settleAborted(rollout);
    return rollout;
  }

  private setState(id: string, state: Rollout['state'], from: Array<Rollout['state']>, reason?: string): Rollout {
    const rollout = this.deps.store.get(id);
    if (!rollout) throw new EdgefitError('E_ROLLOUT_UNKNOWN', { id });
    if (!this.deps.store.setState(id, state, reason ?? null, from)) {
      const now = this.deps.store.get(id)!.state;
      const done = { paused: 'paused', running: 'resumed', aborted: 'aborted', completed: 'completed' }[state];
      throw new EdgefitError('E_ROLLOUT_CONFLICT', { reason: now === state ? `rollout '${id}' is already ${now}` : `rollout '${id}' is ${now}: it cannot be ${done}` });
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
    if (rollout.state === 'aborted') {
      for (const d of store.devices(rollout.id)) this.follow(rollout, d, registry.get(d.deviceId));
      // Also settles a rollout that an older controller aborted, or one aborted just before a restart.
      this.deployments.settleAborted(rollout);
      await this.deployments.repointFailed(rollout, store.devices(rollout.id));
      const devices = store.devices(rollout.id);
      if (devices.every((d) => TERMINAL.has(d.state) && desired.get(d.deviceId)?.rolloutId !== rollout.id) && store.measurements(rollout.id).every((m) => m.outcome !== null)) this.finished.add(rollout.id);
      return;
    }
    // The pass's one read of the rollout's devices: each write below hands back the row it wrote, and the
    // only other writer, an operator's abort, ends the pass at the next stillRunning check.
    const devices = new Map(store.devices(rollout.id).map((d) => [d.deviceId, d] as const));
    const put = (d: RolloutDevice): RolloutDevice => (devices.set(d.deviceId, d), d);
    const all = () => [...devices.values()];
    for (const d of all()) put(this.follow(rollout, d, registry.get(d.deviceId)));
    await this.deployments.repointFailed(rollout, all(), put);
    if (!this.stillRunning(rollout.id)) return;

    const upfront = spec.profile.beforeDeploy === 'all';
    await this.plan(rollout, all().filter((d) => upfront || d.stage <= rollout.stage), put);
    const choosing = upfront && all().some((d) => CHOOSING.has(d.state) && registry.get(d.deviceId)?.online);
    if (!choosing) await this.deployments.deploy(rollout, all(), put);
    if (!this.stillRunning(rollout.id)) return;

    const verdict = stageVerdict(all(), spec, rollout.stage);
    if (verdict.kind === 'abort') this.abort(rollout.id, verdict.reason);
    else if (verdict.kind === 'advance') {
      store.setStage(rollout.id, verdict.stage);
      this.kick();
    } else if (verdict.kind === 'complete') store.setState(rollout.id, 'completed', verdict.reason, ['running']);
  }

  /** Presence, agent reports and timeouts move a device along its state machine; returns the device as it is now. */
  private follow(rollout: Rollout, d: RolloutDevice, device: Device | undefined): RolloutDevice {
    const { store, live } = this.deps;
    const to = (state: DeviceState, patch: Parameters<RolloutStore['transition']>[3] = {}, detail?: string) => {
      if (canTransition(d.state, state, d.resumeState)) d = store.transition(rollout.id, d.deviceId, state, patch, detail);
    };
    if (!d.deviceClass && device?.deviceClass) d = store.patch(rollout.id, d.deviceId, { deviceClass: device.deviceClass });
    const online = device?.online ?? false;
    if (d.state === 'offline' && online && d.resumeState) to(d.resumeState, {}, 'back online: resuming');
    else if (!online && !TERMINAL.has(d.state) && d.state !== 'offline' && d.state !== 'pending') to('offline', {}, 'device went offline');
    if (d.state === 'offline') return d;

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
    return d;
  }

  /** The class's predictions per (candidate, provider) pair, under the thread count the rollout profiles with; the worst provider's MAPE sets the margin. */
  private async latencyHints(deviceClass: string, providers: readonly ExecutionProvider[], ladder: readonly Candidate[], threads: number | null): Promise<LatencyHints | undefined> {
    if (!this.deps.latency) return undefined;
    const predictedMs = new Map<string, number>();
    let mapePct: number | null = null;
    for (const ep of providers) {
      const h = await this.deps.latency.hints(deviceClass, ep, threads, ladder.map((c) => ({ id: pairId(c.id, ep), sha256: c.sha256 }))).catch(() => undefined);
      if (!h) continue;
      for (const [id, ms] of h.predictedMs) predictedMs.set(id, ms);
      mapePct = Math.max(mapePct ?? 0, h.mapePct ?? 0);
    }
    return predictedMs.size ? { predictedMs, mapePct } : undefined;
  }

  /**
   * Per class, planClass's verdict applied: the next measurement sent, or the
   * choice given to every waiting device of the class; at most
   * `profile.concurrency` profiles in flight in the rollout.
   */
  private async plan(rollout: Rollout, active: RolloutDevice[], put: (d: RolloutDevice) => RolloutDevice): Promise<void> {
    const { store, registry } = this.deps;
    const spec = rollout.spec;
    const ladder = this.ladderOf(spec);
    const waiting = active.filter((d) => CHOOSING.has(d.state));
    const classes = new Set(waiting.map((d) => d.deviceClass).filter((c): c is string => c !== null));
    const headroomPct = spec.slo.headroomPct ?? DEFAULT_HEADROOM_PCT;
    const slo = withHeadroom(spec.slo, headroomPct);
    const limit = spec.profile.concurrency ?? Infinity;
    const measurements = store.measurements(rollout.id);
    // A profile unanswered past the device timeout counts as failed and the planner moves on, but only in
    // a class with a device waiting for it: one whose devices are all offline is asked again on their hello.
    const timeoutMs = spec.deviceTimeoutS * 1000;
    for (const m of measurements) {
      if (m.outcome !== null || !classes.has(m.deviceClass) || Date.now() - m.sentAt <= timeoutMs) continue;
      m.outcome = { ok: false, error: `no result within ${spec.deviceTimeoutS} s` };
      store.setOutcome(m.jobId, m.outcome);
    }
    let inFlight = measurements.filter((m) => m.outcome === null).length;
    for (const deviceClass of classes) {
      // An abort during the previous class's send has already settled these devices.
      if (!this.stillRunning(rollout.id)) return;
      const members = waiting.filter((d) => d.deviceClass === deviceClass);
      // Devices of one class report the same providers (they are part of the class).
      const reported = members.map((d) => registry.get(d.deviceId)?.inventory?.executionProviders).find((p) => p !== undefined);
      const { providers, offered } = classProviders(reported, spec.providers);
      // Without profiling there is nothing to compare providers on: the spec's first one the class offers.
      const pairs = pairLadder(ladder, spec.skipProfiling ? providers.slice(0, 1) : providers);
      const latency = spec.skipProfiling ? undefined : await this.latencyHints(deviceClass, providers, ladder, spec.profile.threads ?? null);
      const verdict = planClass({
        ...(latency ? { latency } : {}),
        ladder: pairs,
        slo,
        headroomPct,
        measurements: measurements.filter((m) => m.deviceClass === deviceClass).map((m) => ({ candidateId: pairId(m.candidateId, m.ep), outcome: m.outcome })),
        members: members.map((d) => ({ deviceId: d.deviceId, online: registry.get(d.deviceId)?.online ?? false })),
        skipProfiling: spec.skipProfiling,
        ...(providers.length === 0 ? { unavailable: `no execution provider to run on: the class offers ${offered.join(', ')}, the spec allows only ${(spec.providers ?? []).join(', ')}` } : {}),
      });
      if (verdict.kind === 'wait') {
        for (const d of members.filter((x) => x.state === 'pending')) put(store.transition(rollout.id, d.deviceId, 'profiling', {}, verdict.why));
      } else if (verdict.kind === 'measure') {
        const pair = pairs.find((p) => p.id === verdict.candidateId)!;
        const candidate = ladder.find((c) => c.id === pair.candidateId)!;
        const profiler = verdict.profiler;
        if (!profiler || inFlight >= limit) continue;
        inFlight++;
        // cpu jobs keep the id they had before providers, so a job out across an upgrade is still recognised
        const jobId = `${rollout.id}:${deviceClass}:${candidate.name}${pair.ep === 'cpu' ? '' : `:${pair.ep}`}`.slice(0, 128);
        const predicted = verdict.predictedMs !== undefined && latency?.mapePct != null ? { predictedMs: verdict.predictedMs, predictionMapePct: latency.mapePct } : {};
        store.addMeasurement(rollout.id, { deviceClass, candidateId: candidate.id, ep: pair.ep, jobId, deviceId: profiler, sentAt: Date.now(), ...predicted });
        for (const d of members.filter((x) => x.state === 'pending')) put(store.transition(rollout.id, d.deviceId, 'profiling', {}, `profiling ${pair.name} on ${pair.name === candidate.name ? '' : 'device '}${profiler}: ${verdict.why}`));
        await this.jobs.send(rollout, profiler, candidate, jobId, pair.ep).catch((err: Error) => {
          // the reconnect asks again for every open profile; anything else will not mend by waiting
          if (!(err instanceof BrokerUnavailableError)) store.setOutcome(jobId, { ok: false, error: `cannot send the job: ${err.message}` });
        });
      } else {
        const choice = choiceOfPair(verdict.choice, pairs, verdict.evidence, slo);
        for (const d of members) {
          if (choice.candidateId === null) put(store.transition(rollout.id, d.deviceId, 'failed', { choice, error: choice.explanation, attempts: spec.retries }));
          else put(store.transition(rollout.id, d.deviceId, 'chosen', { choice, candidateId: choice.candidateId, ep: (choice.ep ?? 'cpu') as ExecutionProvider }, choice.explanation));
        }
      }
    }
  }
}
