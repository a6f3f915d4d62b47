import os from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ArtifactRef } from '../../protocol/artifacts.js';
import type { Reported, Telemetry } from '../../protocol/messages.js';
import { waitFor } from '../helpers/wait.js';
import { TestFleet } from './fleet.js';
import { builtYolov8n, impossibleReshapeModel } from './models.js';

const THREADS = Math.min(2, os.cpus().length);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

describe('serving the desired model on a real agent', () => {
  const fleet = new TestFleet();
  let model: ArtifactRef;
  const telemetry: Telemetry[] = [];
  const reported: Reported[] = [];

  beforeAll(async () => {
    await fleet.start();
    model = await fleet.controller.artifacts.put(builtYolov8n(fleet.scratch, 160), { name: 'yolov8n-160.onnx' });
    fleet.controller.live.onChange((id, s) => {
      if (id !== 'cam-1') return;
      if (s.telemetry && s.telemetry !== telemetry.at(-1)) telemetry.push(s.telemetry);
      if (s.reported && s.reported !== reported.at(-1)) reported.push(s.reported);
    });
    // Heartbeats at the default pace: a sensor snapshot every second would tax a 2-core box.
    fleet.agent('cam-1', 10);
    await waitFor(() => fleet.controller.registry.get('cam-1')?.online, 20_000, 'cam-1 online');
  });

  afterAll(() => fleet.close());

  /** FPS of the next n telemetry messages of this model (after one settling message). */
  async function servedFps(n: number): Promise<number> {
    const from = telemetry.length + 1;
    await waitFor(() => telemetry.length >= from + n, (n + 5) * 1500, `${n} telemetry messages`);
    const window = telemetry.slice(from, from + n);
    expect(window.every((t) => t.modelSha256 === model.sha256 && t.errors === 0)).toBe(true);
    return median(window.map((t) => t.fps));
  }

  it('goes healthy and publishes telemetry whose FPS matches the profiled end-to-end FPS within 15%', async () => {
    await fleet.controller.setDesired('cam-1', { model, candidateId: 'n160', threads: THREADS, slo: { minFps: 1 } });
    await waitFor(() => fleet.controller.live.get('cam-1').reported?.state === 'healthy', 30_000, 'healthy');
    // An SLO verdict re-publishes the same state: count transitions only.
    const states = reported.map((r) => r.state).filter((st, i, all) => st !== all[i - 1]);
    expect(states).toEqual(['downloading', 'verifying', 'activating', 'health-check', 'healthy']);
    expect(fleet.controller.live.get('cam-1').reported!.activeModel).toMatchObject({ sha256: model.sha256, candidateId: 'n160', generation: 1 });

    // Each profile (serving pauses while it runs) is paired with the served block right after it, so
    // the two share the machine's state. On a shared VM that state flips between two speeds every ten
    // seconds or so (one run read 157, 218 and 159 FPS profiled against 192, 158 and 239 served): short
    // blocks keep a pair inside one state, and the median of nine pairs outvotes the pairs a flip
    // splits. The first served block only settles the server in.
    await servedFps(4);
    const pairs: Array<{ profiled: number; served: number }> = [];
    for (let round = 1; round <= 9; round++) {
      const jobId = `serve-fps-${round}`;
      await fleet.controller.sendJob('cam-1', { jobId, kind: 'profile', artifact: model, options: { runs: 1000, durationS: 2, warmup: 5, threads: THREADS } });
      const result = await waitFor(() => fleet.controller.profiles.get(jobId), 60_000, 'the profile result');
      expect(result.ok, result.error ?? '').toBe(true);
      expect(result.profile!.environment.servingPaused).toBe(true);
      pairs.push({ profiled: result.profile!.endToEndFps, served: await servedFps(2) });
    }
    const gap = median(pairs.map((p) => Math.abs(p.served - p.profiled) / p.profiled));
    const seen = `profiled → served FPS: ${pairs.map((p) => `${p.profiled} → ${p.served}`).join(', ')}`;
    console.log(`served against profiled, median gap ${gap.toFixed(3)}: ${seen}`);
    expect(gap, seen).toBeLessThan(0.15);

    const device = await fleet.api<{ telemetry: Telemetry; reported: Reported }>('/api/devices/cam-1');
    expect(device.body.telemetry.modelSha256).toBe(model.sha256);
    expect(device.body.telemetry.memoryMb).toBeGreaterThan(0);
    expect(device.body.reported.state).toBe('healthy');
    expect(device.body.reported.slo).toEqual({ met: true, violations: [] });
  }, 180_000);

  it('reports when the model misses its service level', async () => {
    await fleet.controller.setDesired('cam-1', { model, candidateId: 'n160', threads: THREADS, slo: { minFps: 100_000, maxMemoryMb: 1 } });
    const r = await waitFor(() => {
      const now = fleet.controller.live.get('cam-1').reported;
      return now?.generation === 2 && now.slo?.met === false ? now : undefined;
    }, 15_000, 'an SLO miss');
    expect(r.state).toBe('healthy');
    expect(r.slo!.violations.map((v) => v.split(' ')[0]).sort()).toEqual(['fps', 'memory']);
  });

  it('rolls back to the previous model when the new one fails to load, and keeps serving it', async () => {
    const broken = await fleet.controller.artifacts.put(impossibleReshapeModel(fleet.scratch), { name: 'reshape.onnx' });
    await fleet.controller.setDesired('cam-1', { model: broken, candidateId: 'broken', threads: THREADS });
    const r = await waitFor(() => {
      const now = fleet.controller.live.get('cam-1').reported;
      return now?.generation === 3 && (now.state === 'rolled-back' || now.state === 'failed') ? now : undefined;
    }, 30_000, 'the rollback');
    expect(r.state).toBe('rolled-back');
    expect(r.error).toMatch(/failed to load|health check failed/);
    expect(r.activeModel).toMatchObject({ sha256: model.sha256, generation: 2 });
    const fps = await servedFps(3);
    expect(fps).toBeGreaterThan(0);
  });
});
