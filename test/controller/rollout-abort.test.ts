// Aborting a rollout ends every device of it: one it deployed to is rolled back
// to its previous model, one it never deployed to (pending, profiling, chosen
// without a desired state, offline) is cancelled with the abort's reason, and a
// profile still out is settled. The devices are protocol-speaking MQTT clients
// on the controller's real broker, so the test decides which of them answer
// profiles and which report healthy; the controller, its SQLite state and its
// reconcile loop are the real ones.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canTransition, DEVICE_STATES, holdsDevice, TERMINAL } from '../../controller/rollout/states.js';
import { encode } from '../../protocol/messages.js';
import { deviceTopic, PROTOCOL_VERSION } from '../../protocol/topics.js';
import { TestFleet } from '../agent/fleet.js';
import { waitFor } from '../helpers/wait.js';
import { answerProfile, connectDevice, post, quickModel, reportState, type SimulatedDevice, type Status, allOnline, closeFleet } from './simulated-devices.js';

const CLASS_A = 'aaaaaaaaaaaaaaaa';
const CLASS_B = 'bbbbbbbbbbbbbbbb';

describe('the cancelled device state', () => {
  it('is reached only from states before any deployment, ends there, and frees the device', () => {
    expect(DEVICE_STATES.filter((from) => canTransition(from, 'cancelled', 'chosen'))).toEqual(['pending', 'profiling', 'chosen', 'offline']);
    expect(DEVICE_STATES.filter((to) => canTransition('cancelled', to))).toEqual([]);
    expect(TERMINAL.has('cancelled')).toBe(true);
    expect(holdsDevice('cancelled', 0, 3)).toBe(false);
  });
});

describe('aborting a rollout, on the real controller with simulated devices', () => {
  const fleet = new TestFleet();
  const devices = new Map<string, SimulatedDevice>();
  let modelId = '';

  const sim = (id: string) => devices.get(id)!;
  const status = async (id: string) => (await fleet.api<Status>(`/api/rollouts/${id}`)).body;
  const createRollout = async (spec: Record<string, unknown>) => {
    const res = await post(fleet, '/api/rollouts', { model: modelId, slo: { minFps: 1 }, ...spec });
    const body = (await res.json()) as Status;
    expect(res.status, JSON.stringify(body)).toBe(201);
    return body.id;
  };

  beforeAll(async () => {
    await fleet.start();
    const fleetPlan: Array<[string, string]> = [
      ['a0-deployed', CLASS_A],
      ['a1-chosen', CLASS_A],
      ['a2-offline', CLASS_A],
      ['b0-profiling', CLASS_B],
      ['b1-pending', CLASS_B],
    ];
    // class A answers profiles at once; class B never does by itself
    for (const [id, deviceClass] of fleetPlan) devices.set(id, await connectDevice(fleet, id, deviceClass, { job: (d, job) => void (deviceClass === CLASS_A && answerProfile(d, job)) }));
    await allOnline(fleet, devices.size);
    modelId = await quickModel(fleet, 'abort');
  }, 90_000);

  afterAll(async () => {
    await closeFleet(fleet, devices.values());
  });

  it('rolls back the device it deployed to and cancels every other one with the reason, settles the open profile, and frees the devices', async () => {
    // Stage 0: the three class A devices and b0; stage 1: b1. One device a minute gets the model.
    const id = await createRollout({ stages: { canary: 4, phases: ['100%'] }, rate: { maxInFlight: 5, perMinute: 1 }, profile: { durationS: 1, warmup: 0 } });
    const deployed = await waitFor(() => [...devices.values()].find((d) => d.desired.length > 0), 20_000, 'the first class A device given the model');
    expect(deployed.id).toBe('a0-deployed');
    await reportState(deployed, 'healthy');
    await waitFor(async () => {
      const s = await status(id);
      const state = (x: string) => s.devices.find((d) => d.deviceId === x)!.state;
      return state('a0-deployed') === 'healthy' && state('a1-chosen') === 'chosen' && state('a2-offline') === 'chosen' && state('b0-profiling') === 'profiling';
    }, 20_000, 'class A chosen and deploying at the rate, class B profiling');
    // a2 loses its connection while waiting for its turn.
    await sim('a2-offline').client.publishAsync(deviceTopic('a2-offline', 'presence'), encode({ v: PROTOCOL_VERSION, ts: Date.now(), state: 'offline' }), { qos: 1, retain: true });
    await waitFor(async () => (await status(id)).devices.find((d) => d.deviceId === 'a2-offline')!.state === 'offline', 10_000, 'a2 offline');

    const before = await status(id);
    expect(before.devices.map((d) => [d.deviceId, d.stage, d.state, d.generation === null])).toEqual([
      ['a0-deployed', 0, 'healthy', false],
      ['a1-chosen', 0, 'chosen', true],
      ['a2-offline', 0, 'offline', true],
      ['b0-profiling', 0, 'profiling', true],
      ['b1-pending', 1, 'pending', true],
    ]);
    const open = before.classes.find((c) => c.deviceClass === CLASS_B)!.measurements;
    expect(open.map((m) => [m.deviceId, m.outcome])).toEqual([['b0-profiling', null]]);
    const job = sim('b0-profiling').jobs[0];
    expect(job.jobId).toBe(open[0].jobId);

    // The abort's own answer already shows every device settled.
    const res = await post(fleet, `/api/rollouts/${id}/abort`, {});
    expect(res.status).toBe(200);
    const after = (await res.json()) as Status;
    const reason = 'rollout aborted: aborted by the operator';
    expect(after.state).toBe('aborted');
    expect(after.devices.map((d) => [d.deviceId, d.state, d.error])).toEqual([
      ['a0-deployed', 'rolled-back', reason],
      ['a1-chosen', 'cancelled', `not deployed: ${reason}`],
      ['a2-offline', 'cancelled', `not deployed: ${reason}`],
      ['b0-profiling', 'cancelled', `not deployed: ${reason}`],
      ['b1-pending', 'cancelled', `not deployed: ${reason}`],
    ]);
    expect(after.classes.find((c) => c.deviceClass === CLASS_B)!.measurements[0].outcome).toEqual({ ok: false, error: `not measured: ${reason}` });

    // Each device's end is in the event log, from the state it was in.
    const ends = after.events.filter((e) => e.deviceId !== null && (e.to === 'cancelled' || e.to === 'rolled-back')).map((e) => [e.deviceId, e.from, e.to, e.detail]);
    expect(ends).toEqual([
      ['a0-deployed', 'healthy', 'rolled-back', reason],
      ['a1-chosen', 'chosen', 'cancelled', `not deployed: ${reason}`],
      ['a2-offline', 'offline', 'cancelled', `not deployed (offline while chosen): ${reason}`],
      ['b0-profiling', 'profiling', 'cancelled', `not deployed: ${reason}`],
      ['b1-pending', 'pending', 'cancelled', `not deployed: ${reason}`],
    ]);

    // The deployed device is pointed back at what it ran before (nothing); no other device ever got a desired state.
    await waitFor(() => deployed.desired.length === 2, 10_000, 'the rollback desired state on a0');
    expect(deployed.desired[1].model).toBeNull();
    expect(['a1-chosen', 'a2-offline', 'b0-profiling', 'b1-pending'].map((x) => sim(x).desired.length)).toEqual([0, 0, 0, 0]);

    // The profile that was still out comes back late: it changes nothing, and passes later leave the states as they are.
    await answerProfile(sim('b0-profiling'), job);
    await waitFor(() => fleet.controller.profiles.get(job.jobId, 'b0-profiling'), 10_000, 'the late result stored');
    await waitFor(() => fleet.logs('device rolled back to its previous model').length === 1, 10_000, 'the rollback logged');
    await new Promise((r) => setTimeout(r, 2500));
    const later = await status(id);
    expect(later.devices.map((d) => d.state)).toEqual(['rolled-back', 'cancelled', 'cancelled', 'cancelled', 'cancelled']);
    expect(later.classes.find((c) => c.deviceClass === CLASS_B)!.measurements[0].outcome).toEqual({ ok: false, error: `not measured: ${reason}` });
    expect(later.events.filter((e) => e.to === 'cancelled')).toHaveLength(4);

    // The cancelled devices are free: a new rollout may target them.
    const next = await createRollout({ targets: { devices: ['a1-chosen', 'b0-profiling', 'b1-pending'] }, stages: { canary: 3 }, rate: { maxInFlight: 5, perMinute: 1 } });
    expect((await post(fleet, `/api/rollouts/${next}/abort`, {})).status).toBe(200);
  }, 90_000);

  it('settles a rollout that an older controller aborted without cancelling its devices', async () => {
    const id = await createRollout({ targets: { devices: ['b0-profiling', 'b1-pending'] }, stages: { canary: 1, phases: ['100%'] }, profile: { durationS: 1, warmup: 0 } });
    await waitFor(async () => {
      const s = await status(id);
      return s.devices.map((d) => d.state).join() === 'profiling,pending';
    }, 20_000, 'b0 profiling (its class is measured on it), b1 waiting for stage 1');
    // What an older controller left in the database: the rollout aborted, its devices untouched.
    expect(fleet.controller.rolloutStore.setState(id, 'aborted', 'aborted by the operator', ['running'])).toBe(true);
    const settled = await waitFor(async () => {
      const s = await status(id);
      return s.devices.every((d) => d.state === 'cancelled') ? s : undefined;
    }, 10_000, 'the reconcile loop to cancel both devices');
    expect(settled.devices.map((d) => [d.deviceId, d.error])).toEqual([
      ['b0-profiling', 'not deployed: rollout aborted: aborted by the operator'],
      ['b1-pending', 'not deployed: rollout aborted: aborted by the operator'],
    ]);
    expect(settled.classes[0].measurements.every((m) => m.outcome !== null)).toBe(true);
    expect(settled.events.filter((e) => e.to === 'cancelled').map((e) => [e.deviceId, e.from])).toEqual([
      ['b0-profiling', 'profiling'],
      ['b1-pending', 'pending'],
    ]);
  }, 60_000);
});
