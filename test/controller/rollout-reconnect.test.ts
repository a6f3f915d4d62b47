// A device that drops off while it holds a profile job (an agent restarted and
// lost its queue, or its answer went to a restarted broker before the
// controller listened again) is asked again, under the same job id, as soon as
// it is back: not after deviceTimeoutS. The device is a protocol-speaking MQTT
// client on the controller's real broker; the controller, its SQLite state and
// its reconcile loop are the real ones.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encode } from '../../protocol/messages.js';
import { deviceTopic, PROTOCOL_VERSION } from '../../protocol/topics.js';
import { TestFleet } from '../agent/fleet.js';
import { waitFor } from '../helpers/wait.js';
import { answerProfile, connectDevice, post, quickModel, type SimulatedDevice, type Status } from './simulated-devices.js';


describe('a device that comes back while its profile is out', () => {
  const fleet = new TestFleet();
  let modelId = '';

  beforeAll(async () => {
    await fleet.start();
    modelId = await quickModel(fleet, 'reconnect');
  }, 90_000);

  afterAll(() => fleet.close());

  /** The outcome of a rollout's profile job, once it has one. */
  async function outcomeOf(rolloutId: string, jobId: string) {
    const settled = await waitFor(async () => {
      const s = (await fleet.api<Status>(`/api/rollouts/${rolloutId}`)).body;
      return s.classes[0]?.measurements.find((m) => m.jobId === jobId && m.outcome !== null);
    }, 10_000, `profile ${jobId} settled`);
    return settled.outcome;
  }

  /** A device of its own class, in a rollout of its own, holding its class's first profile job and not answering it. */
  async function holdingAJob(id: string, deviceClass: string, deviceTimeoutS: number) {
    const device = await connectDevice(fleet, id, deviceClass);
    await waitFor(() => fleet.controller.registry.get(id)?.online, 10_000, `${id} online`);
    const res = await post(fleet, '/api/rollouts', { model: modelId, targets: { devices: [id] }, slo: { minFps: 1 }, profile: { durationS: 1, warmup: 0 }, deviceTimeoutS });
    const rollout = (await res.json()) as Status;
    expect(res.status, JSON.stringify(rollout)).toBe(201);
    const job = await waitFor(() => device.jobs[0], 20_000, 'the first profile job');
    return { device, rollout, job };
  }

  /** The device goes away as its last will says. */
  async function goOffline(device: SimulatedDevice): Promise<void> {
    await device.client.publishAsync(deviceTopic(device.id, 'presence'), encode({ v: PROTOCOL_VERSION, ts: Date.now(), state: 'offline' }), { qos: 1, retain: true });
    await device.client.endAsync(true);
    await waitFor(() => fleet.controller.registry.get(device.id)?.online === false, 5000, `${device.id} offline`);
  }

  it('gets the same job again on its hello when it reconnects, and its answer settles the profile', async () => {
    const { device: before, rollout, job: lost } = await holdingAJob('cam-r', 'dddddddddddddddd', 3600);
    // a restarted agent: gone as its last will says, back with the same token
    await goOffline(before);
    const after = await connectDevice(fleet, 'cam-r', before.deviceClass, { job: (d, job) => void answerProfile(d, job) }, before.token);
    const again = await waitFor(() => after.jobs.find((j) => j.jobId === lost.jobId), 10_000, 'the open job sent again');
    expect(again).toMatchObject({ kind: 'profile', candidateId: lost.candidateId, artifact: { sha256: lost.artifact.sha256 } });
    expect(await outcomeOf(rollout.id, lost.jobId)).toMatchObject({ ok: true });
  }, 60_000);

  it('gets the same job again on its hello though nobody saw it go (a broker crash sends no last will)', async () => {
    const { device: before, rollout, job: lost } = await holdingAJob('cam-c', 'cccccccccccccccc', 3600);
    before.client.end(true);
    const after = await connectDevice(fleet, 'cam-c', before.deviceClass, { job: (d, job) => void answerProfile(d, job) }, before.token);
    expect(fleet.controller.registry.get('cam-c')?.online).toBe(true);
    await waitFor(() => after.jobs.find((j) => j.jobId === lost.jobId), 10_000, 'the open job sent again');
    expect(await outcomeOf(rollout.id, lost.jobId)).toMatchObject({ ok: true });
  }, 60_000);

  it('gives a device that was away longer than deviceTimeoutS the whole time again for the job it is sent again', async () => {
    const { device: before, rollout, job: lost } = await holdingAJob('cam-s', 'eeeeeeeeeeeeeeee', 6);
    await goOffline(before);
    await new Promise((r) => setTimeout(r, 7000));
    // Back after 7 s, it runs the job again (3 s): the timeout counts from the second send, not the first.
    const after = await connectDevice(fleet, 'cam-s', before.deviceClass, { job: (d, job) => void setTimeout(() => void answerProfile(d, job), 3000) }, before.token);
    await waitFor(() => after.jobs.find((j) => j.jobId === lost.jobId), 10_000, 'the open job sent again');
    expect(await outcomeOf(rollout.id, lost.jobId)).toMatchObject({ ok: true });
  }, 60_000);
});
