// Devices of different speed get different candidates. The speeds are the
// test's own: three protocol-speaking devices of three classes answer each
// profile job at the FPS their frame-time model gives the candidate's input
// size, so the verdict never rests on how fast this shared machine happens to
// run (real agents sharing two cores once all measured alike and got one
// candidate: rollout.test.ts keeps the real agents, without that verdict).
// The controller, its broker, planner, SQLite state and reconcile loop are the real ones.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Job } from '../../protocol/messages.js';
import { TestFleet } from '../agent/fleet.js';
import { waitFor } from '../helpers/wait.js';
import { answerProfile, connectDevice, post, quickModel, reportState, type SimulatedDevice, type Status, allOnline, closeFleet } from './simulated-devices.js';

const SIZES = [160, 128, 96, 64];
/** Frame time in ms: a fixed overhead plus a part that grows with the pixels, i.e. the FLOPs (×4 from 80 to 160 px). */
const DEVICES = [
  { id: 'fast', deviceClass: 'f000000000000001', overheadMs: 5, msAt160: 40 },
  { id: 'slow', deviceClass: 'f000000000000002', overheadMs: 10, msAt160: 80 },
  { id: 'busy', deviceClass: 'f000000000000003', overheadMs: 20, msAt160: 160 },
];
const fpsOf = (d: (typeof DEVICES)[number], size: number) => 1000 / (d.overheadMs + d.msAt160 * (size / 160) ** 2);
const MIN_FPS = 15;
const HEADROOM = 1.1;

describe('rollouts choose per device speed: simulated devices with the speeds the test sets', () => {
  const fleet = new TestFleet();
  const devices: SimulatedDevice[] = [];
  let modelId = '';

  beforeAll(async () => {
    await fleet.start();
    for (const spec of DEVICES) {
      const answer = (d: SimulatedDevice, job: Job) => {
        const size = fleet.controller.catalog.getCandidate(job.candidateId!)!.imgsz;
        void answerProfile(d, job, { fps: fpsOf(spec, size) });
      };
      devices.push(await connectDevice(fleet, spec.id, spec.deviceClass, { job: answer, desired: (d) => void reportState(d, 'healthy') }));
    }
    await allOnline(fleet, devices.length);
    modelId = await quickModel(fleet, 'speeds', SIZES);
  }, 180_000);

  afterAll(async () => {
    await closeFleet(fleet, devices);
  });

  it('gives each device the largest candidate its own profiles allow, so devices of different speed get different candidates', async () => {
    const res = await post(fleet, '/api/rollouts', { model: modelId, candidates: SIZES.map((s) => `fp32-${s}`), slo: { minFps: MIN_FPS }, stages: { canary: 1, phases: ['100%'] } });
    expect(res.status, await res.clone().text()).toBe(201);
    const { id } = (await res.json()) as { id: string };
    const final = await waitFor(async () => {
      const s = (await fleet.api<Status>(`/api/rollouts/${id}`)).body;
      return s.state === 'completed' || s.state === 'aborted' ? s : undefined;
    }, 60_000, 'the rollout to end');
    expect(final.state, final.reason ?? '').toBe('completed');
    for (const spec of DEVICES) {
      // the definition: the largest input size whose FPS meets the level with its 10 % headroom
      const expected = Math.max(...SIZES.filter((s) => fpsOf(spec, s) >= MIN_FPS * HEADROOM));
      const d = final.devices.find((x) => x.deviceId === spec.id)!;
      expect(d.state).toBe('healthy');
      expect(d.candidate, spec.id).toBe(`fp32-${expected}`);
      // every larger candidate lost on its FPS, measured or implied by a smaller one that missed
      expect(d.rejected.map((r) => r.name).sort()).toEqual(SIZES.filter((s) => s > expected).map((s) => `fp32-${s}`).sort());
      for (const r of d.rejected) expect(r.reasons.join(' ')).toMatch(/fps .* < 16\.5|at least as slow as/);
    }
    // worked out from the table: fast 22.2 FPS at 160; slow 16.3 at 128 (< 16.5), 25.8 at 96; busy 12.9 at 96, 21.9 at 64
    expect(Object.fromEntries(final.devices.map((d) => [d.deviceId, d.candidate]))).toEqual({ fast: 'fp32-160', slow: 'fp32-96', busy: 'fp32-64' });
    for (const c of final.classes) expect(c.profiles).toBeLessThanOrEqual(Math.floor(Math.log2(SIZES.length) + 2));
  }, 90_000);
});
