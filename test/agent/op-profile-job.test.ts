// A profile job that asks for an operator profile, end to end: a real agent
// answers it, the controller keeps it under the device's class and provider,
// and the API shows its top layers. A job without the field gets none.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readModelFile } from '../../compress/onnx/read.js';
import type { ArtifactRef } from '../../protocol/artifacts.js';
import { waitFor } from '../helpers/wait.js';
import { TestFleet } from './fleet.js';
import { builtYolov8n } from './models.js';

interface OpProfilesBody {
  opProfiles: Array<{ artifactSha256: string; deviceClass: string; ep: string; threads: number | null; candidateId: string | null; jobId: string; modelMs: number; runs: number; topLayers: Array<{ node: string; op: string; ms: number; pct: number }> }>;
}

describe('operator profile jobs on a real agent', () => {
  const fleet = new TestFleet();
  let small: ArtifactRef;
  let convs: number;

  beforeAll(async () => {
    await fleet.start();
    const file = builtYolov8n(fleet.scratch, 64);
    convs = readModelFile(file).graph.nodes.filter((n) => n.opType === 'Conv').length;
    small = await fleet.controller.artifacts.put(file, { name: 'yolov8n-64.onnx' });
    fleet.agent('op-a');
    await waitFor(() => fleet.controller.registry.get('op-a')?.deviceClass, 20_000, 'op-a online with its class');
  });

  afterAll(() => fleet.close());

  it('returns time per node and group when asked, stores it per class and provider, and shows the top layers', async () => {
    await fleet.controller.sendJob('op-a', { jobId: 'plain-1', kind: 'profile', artifact: small, candidateId: 'n64', options: { runs: 5, warmup: 1, threads: 1 } });
    await fleet.controller.sendJob('op-a', { jobId: 'ops-1', kind: 'profile', artifact: small, candidateId: 'n64', options: { runs: 5, warmup: 1, threads: 1, opProfile: true } });
    await waitFor(() => fleet.controller.profiles.get('ops-1', 'op-a'), 60_000, 'the operator profile result');

    const plain = fleet.controller.profiles.get('plain-1', 'op-a')!;
    expect(plain.ok).toBe(true);
    expect(plain.profile!.opProfile).toBeUndefined();
    expect(plain.profile!.opProfileError).toBeUndefined();

    const ops = fleet.controller.profiles.get('ops-1', 'op-a')!;
    expect(ops.ok, ops.error ?? '').toBe(true);
    const op = ops.profile!.opProfile!;
    expect(ops.profile!.opProfileError).toBeUndefined();
    expect(op).toMatchObject({ threads: 1, runs: 5 });
    expect(op.nodes.filter((n) => n.op === 'Conv' && n.ms > 0)).toHaveLength(convs);
    expect(op.groups.length).toBeGreaterThan(10);
    // the plain measurement is the job's own: as many model runs as asked, profiled or not
    expect(ops.profile!.model.n).toBe(5);

    const { status, body } = await fleet.api<OpProfilesBody>(`/api/op-profiles?artifact=${small.sha256}&top=3`);
    expect(status).toBe(200);
    expect(body.opProfiles).toHaveLength(1);
    const row = body.opProfiles[0];
    expect(row).toMatchObject({ artifactSha256: small.sha256, deviceClass: fleet.controller.registry.get('op-a')!.deviceClass, ep: 'cpu', threads: 1, candidateId: 'n64', jobId: 'ops-1', runs: 5 });
    expect(row.modelMs).toBe(ops.profile!.model.meanMs);
    expect(row.topLayers).toHaveLength(3);
    const longest = Math.max(...op.nodes.map((n) => n.ms + n.absorbedMs));
    expect(row.topLayers[0].ms).toBeCloseTo(longest, 3);
    expect(row.topLayers[0].ms).toBeGreaterThanOrEqual(row.topLayers[1].ms);
    expect((await fleet.api('/api/op-profiles?class=nothex')).status).toBe(400);
  });
});
