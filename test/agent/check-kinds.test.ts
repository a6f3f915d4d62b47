// The artifact kinds the on-device check added, on a real agent: a frame is
// never installed as a model, a model is never decoded as a frame, and a job
// with frames comes back with the candidate's detections on each.
import jpeg from 'jpeg-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { syntheticFrame } from '../../compress/detect/scene.js';
import type { ArtifactRef } from '../../protocol/artifacts.js';
import { waitFor } from '../helpers/wait.js';
import { TestFleet } from './fleet.js';
import { builtYolov8n } from './models.js';

function sceneJpeg(seed: number): Uint8Array {
  const { width, height, rgb } = syntheticFrame(160, 120, seed);
  const rgba = new Uint8Array(width * height * 4).fill(255);
  for (let i = 0; i < width * height; i++) rgba.set(rgb.subarray(3 * i, 3 * i + 3), 4 * i);
  return new Uint8Array(jpeg.encode({ width, height, data: rgba }, 90).data);
}

describe('on-device check frames on a real agent', () => {
  const fleet = new TestFleet();
  let model: ArtifactRef;
  let frame: ArtifactRef;

  beforeAll(async () => {
    await fleet.start();
    model = await fleet.controller.artifacts.put(builtYolov8n(fleet.scratch, 64), { name: 'yolov8n-64.onnx' });
    frame = await fleet.controller.artifacts.put(sceneJpeg(1), { name: 'scene-1.jpg', kind: 'frame' });
    fleet.agent('pi-c');
    await waitFor(() => fleet.controller.registry.get('pi-c')?.online, 20_000, 'pi-c online');
  });

  afterAll(() => fleet.close());

  it('refuses a frame as a job\'s model and a model as a check frame, and checks a candidate on real frames', async () => {
    await fleet.controller.sendJob('pi-c', { jobId: 'frame-as-model', kind: 'profile', artifact: frame, options: { runs: 2 } });
    await fleet.controller.sendJob('pi-c', { jobId: 'model-as-frame', kind: 'profile', artifact: model, check: { frames: [model] }, options: { runs: 2 } });
    await fleet.controller.sendJob('pi-c', { jobId: 'checked', kind: 'profile', artifact: model, check: { frames: [frame] }, options: { runs: 2, warmup: 1 } });
    await waitFor(() => ['frame-as-model', 'model-as-frame', 'checked'].every((j) => fleet.controller.profiles.get(j)), 60_000, 'three results');
    expect(fleet.controller.profiles.get('frame-as-model')).toMatchObject({ ok: false, error: `artifact ${frame.sha256} is signed as a frame, not a model` });
    expect(fleet.controller.profiles.get('model-as-frame')).toMatchObject({ ok: false, error: `check frame ${model.sha256} is signed as a model, not a frame` });
    const checked = fleet.controller.profiles.get('checked')!;
    expect(checked.ok).toBe(true);
    expect(checked.profile!.check!.frames.map((f) => f.sha256)).toEqual([frame.sha256]);
    expect(checked.profile!.check!.ms).toBeGreaterThan(0);
    // no candidate of the catalog: the controller says it did not compare, and holds nothing against the model
    expect(checked.check).toMatchObject({ ok: true, fidelity: null, reason: expect.stringMatching(/^on-device check not compared: candidate \(none named\) is not in the catalog/) });
  }, 90_000);
});
