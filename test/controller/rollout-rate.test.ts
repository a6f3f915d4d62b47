// The rollout rate: at most `maxInFlight` devices deploying at once and at most
// `perMinute` given the model in any minute. The devices are protocol-speaking
// MQTT clients on the controller's real broker, so the test decides when each
// turns healthy and can hold a stage mid-deployment; the controller, its
// SQLite state and its reconcile loop are the real ones.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deploySlots, RATE_WINDOW_MS } from '../../controller/rollout/rate.js';
import { TestFleet } from '../agent/fleet.js';
import { waitFor } from '../helpers/wait.js';
import { connectDevice, post, quickModel, reportState, type SimulatedDevice, type Status, allOnline, closeFleet } from './simulated-devices.js';

describe('deploySlots', () => {
  const now = 1_000_000;
  it('is bounded by the devices deploying now', () => {
    expect(deploySlots({ maxInFlight: 3 }, 0, [], now)).toBe(3);
    expect(deploySlots({ maxInFlight: 3 }, 2, [now - 10], now)).toBe(1);
    expect(deploySlots({ maxInFlight: 3 }, 5, [], now)).toBe(0);
  });

  it('counts only the devices given the model within the last minute against perMinute', () => {
    const sent = [now - RATE_WINDOW_MS - 1, now - RATE_WINDOW_MS, now - 30_000, now - 1];
    expect(deploySlots({ maxInFlight: 100, perMinute: 4 }, 0, sent, now)).toBe(2);
    expect(deploySlots({ maxInFlight: 100, perMinute: 2 }, 0, sent, now)).toBe(0);
    expect(deploySlots({ maxInFlight: 1, perMinute: 4 }, 0, sent, now)).toBe(1);
    expect(deploySlots({ maxInFlight: 100, perMinute: 2 }, 0, sent, now + 30_000)).toBe(1);
    expect(deploySlots({ maxInFlight: 100, perMinute: 2 }, 0, sent, now + RATE_WINDOW_MS)).toBe(2);
  });
});

describe('rollout rate, on the real controller with simulated devices', () => {
  const fleet = new TestFleet();
  const devices: SimulatedDevice[] = [];
  let modelId = '';

  const status = async (id: string) => (await fleet.api<Status>(`/api/rollouts/${id}`)).body;

  beforeAll(async () => {
    await fleet.start();
    // each device starts its health check as soon as it gets the model, and stays there until the test says
    for (const id of ['r0', 'r1', 'r2', 'r3', 'r4']) devices.push(await connectDevice(fleet, id, 'cccccccccccccccc', { desired: (d) => void reportState(d, 'health-check') }));
    await allOnline(fleet, devices.length);
    modelId = await quickModel(fleet, 'rate');
  }, 90_000);

  afterAll(async () => {
    await closeFleet(fleet, devices);
  });

  it('holds devices back while maxInFlight deploy, then while perMinute were given the model this minute, failures included', async () => {
    // a failed device must not end the rollout here: the test is about the pace
    const res = await post(fleet, '/api/rollouts', { model: modelId, slo: { minFps: 1 }, skipProfiling: true, stages: { canary: 1, phases: ['100%'] }, rate: { maxInFlight: 2, perMinute: 4 }, abort: { failurePct: 100 } });
    const { id } = (await res.json()) as { id: string };
    expect(res.status).toBe(201);
    const given = () => devices.filter((d) => d.desired.some((x) => x.rolloutId === id && x.model !== null));
    const tick = () => new Promise((r) => setTimeout(r, 3000));
    const stateOf = async (device: SimulatedDevice) => (await status(id)).devices.find((d) => d.deviceId === device.id)!.state;

    await waitFor(() => given().length === 1, 10_000, 'the canary given the model');
    const [canary] = given();
    await reportState(canary, 'healthy');

    // Stage 1: two deploy and the other two wait, held by maxInFlight (perMinute would allow a third).
    await waitFor(() => given().length === 3, 10_000, 'two more given the model');
    await tick();
    expect(given()).toHaveLength(3);
    const [first, second] = given().filter((d) => d !== canary);

    // One fails its health check and is pointed back at what it ran before: its place frees one more, the fourth this minute.
    await reportState(first, 'failed');
    await waitFor(async () => (await stateOf(first)) === 'rolled-back', 10_000, 'the failed device rolled back');
    await waitFor(() => given().length === 4, 10_000, 'a fourth device given the model');
    const third = given().find((d) => d !== canary && d !== first && d !== second)!;

    // Both in flight turn healthy: places are free, but four devices got the model within this minute, the rolled-back one among them.
    await reportState(second, 'healthy');
    await reportState(third, 'healthy');
    await waitFor(async () => (await status(id)).devices.filter((d) => d.state === 'healthy').length === 3, 10_000, 'three healthy');
    await tick();
    expect(given()).toHaveLength(4);
    const s = await status(id);
    expect(s.state).toBe('running');
    expect(s.devices.filter((d) => d.state === 'chosen' && d.generation === null)).toHaveLength(1);

    expect((await post(fleet, `/api/rollouts/${id}/abort`, {})).status).toBe(200);
  }, 60_000);
});
