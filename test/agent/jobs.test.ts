import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ArtifactRef } from '../../protocol/artifacts.js';
import { encode } from '../../protocol/messages.js';
import { deviceTopic } from '../../protocol/topics.js';
import type { CliProcess } from '../helpers/cli.js';
import { waitFor } from '../helpers/wait.js';
import { agentLogs, TestFleet } from './fleet.js';
import { builtYolov8n, garbageModel, impossibleReshapeModel } from './models.js';

describe('profiling jobs on a real agent', () => {
  const fleet = new TestFleet();
  let agent: CliProcess;
  let small: ArtifactRef;

  beforeAll(async () => {
    await fleet.start();
    small = await fleet.controller.artifacts.put(builtYolov8n(fleet.scratch, 64), { name: 'yolov8n-64.onnx' });
    agent = fleet.agent('pi-a');
    await waitFor(() => fleet.controller.registry.get('pi-a')?.online, 20_000, 'pi-a online');
  });

  afterAll(() => fleet.close());

  it('turns a garbage model and one onnxruntime rejects into failed results, and the agent keeps answering', async () => {
    const garbage = await fleet.controller.artifacts.put(readFileSync(garbageModel(fleet.scratch)), { name: 'garbage.onnx' });
    const reshape = await fleet.controller.artifacts.put(impossibleReshapeModel(fleet.scratch), { name: 'reshape.onnx' });
    await fleet.controller.sendJob('pi-a', { jobId: 'garbage-1', kind: 'profile', artifact: garbage, options: { runs: 5 } });
    await fleet.controller.sendJob('pi-a', { jobId: 'reshape-1', kind: 'profile', artifact: reshape, options: { runs: 5 } });
    await fleet.controller.sendJob('pi-a', { jobId: 'good-1', kind: 'profile', artifact: small, candidateId: 'n64', options: { runs: 10, warmup: 2 } });
    await waitFor(() => fleet.controller.profiles.get('good-1'), 60_000, 'the good result');

    const g = fleet.controller.profiles.get('garbage-1')!;
    expect(g.ok).toBe(false);
    expect(g.error).toMatch(/onnxruntime cannot load the model/);
    const r = fleet.controller.profiles.get('reshape-1')!;
    expect(r.ok).toBe(false);
    expect(r.error).toMatch(/reshape/i);

    const good = fleet.controller.profiles.get('good-1')!;
    expect(good).toMatchObject({ ok: true, deviceId: 'pi-a', artifactSha256: small.sha256, candidateId: 'n64' });
    expect(good.profile!.model.n).toBe(10);
    expect(good.profile!.modelSha256).toBe(small.sha256);
    expect(good.profile!.environment.servingPaused).toBe(false);

    const { status, body } = await fleet.api<{ profiles: Array<{ jobId: string; ok: boolean }> }>('/api/devices/pi-a/profiles');
    expect(status).toBe(200);
    expect(body.profiles.map((p) => p.jobId).sort()).toEqual(['garbage-1', 'good-1', 'reshape-1']);
    expect((await fleet.api('/api/devices/nobody/profiles')).status).toBe(404);

    const beat = fleet.controller.registry.get('pi-a')!.heartbeat!.ts;
    await waitFor(() => fleet.controller.registry.get('pi-a')!.heartbeat!.ts > beat, 5000, 'a later heartbeat');
    expect(agent.child.exitCode).toBeNull();
  });

  it('logs and drops malformed jobs, and answers a repeated job from its stored result without running it again', async () => {
    const raw = await fleet.rawController();
    await raw.publishAsync(deviceTopic('pi-a', 'jobs'), Buffer.from('{"jobId": 12'), { qos: 1 });
    await raw.publishAsync(deviceTopic('pi-a', 'jobs'), encode({ v: 1, ts: 1, jobId: 'bad-artifact', kind: 'profile', artifact: { sha256: 'nope' } }), { qos: 1 });
    await raw.publishAsync(deviceTopic('pi-a', 'desired'), Buffer.from('[]'), { qos: 1 });
    raw.end(true);
    await waitFor(() => agentLogs(agent, 'malformed job dropped').length >= 2 && agentLogs(agent, 'malformed desired state dropped').length >= 1, 5000, 'malformed message logs');

    const runsBefore = agentLogs(agent, 'profiling', 'good-1').length;
    const receivedBefore = fleet.logs('profile result').length;
    await fleet.controller.sendJob('pi-a', { jobId: 'good-1', kind: 'profile', artifact: small, options: { runs: 10 } });
    await waitFor(() => fleet.logs('profile result').length > receivedBefore, 10_000, 'the repeated result');
    expect(fleet.logs('profile result').at(-1)).toMatchObject({ jobId: 'good-1', duplicate: true });
    expect(agentLogs(agent, 'profiling', 'good-1').length).toBe(runsBefore);
  });

  it('keeps a result finished while the broker is down and delivers it exactly once when it is back', async () => {
    await fleet.controller.sendJob('pi-a', { jobId: 'offline-1', kind: 'profile', artifact: small, options: { durationS: 2, warmup: 2 } });
    await waitFor(() => agentLogs(agent, 'profiling', 'offline-1').length > 0, 15_000, 'the job to start');
    await fleet.controller.close();
    await waitFor(() => agentLogs(agent, 'job finished', 'offline-1').length > 0, 30_000, 'the job to finish offline');
    const outbox = path.join(fleet.stateDir('pi-a'), 'outbox');
    await waitFor(() => existsSync(path.join(outbox, 'offline-1.json')), 5000, 'the result in the outbox');

    await fleet.start();
    await waitFor(() => fleet.controller.profiles.get('offline-1'), 20_000, 'the result after the restart');
    await waitFor(() => readdirSync(outbox).length === 0, 5000, 'an empty outbox');
    // Give a duplicate delivery time to show up before counting.
    await waitFor(() => agentLogs(agent, 'result delivered', 'offline-1').length > 0, 5000, 'the delivery log');
    await new Promise((r) => setTimeout(r, 1000));
    const received = fleet.logs('profile result').filter((l) => l.jobId === 'offline-1');
    expect(received).toHaveLength(1);
    expect(received[0].duplicate).toBe(false);
    expect(fleet.controller.profiles.forDevice('pi-a').filter((p) => p.jobId === 'offline-1')).toHaveLength(1);
    expect(fleet.controller.profiles.get('offline-1')!.ok).toBe(true);
  });

  it.skipIf(!existsSync('/proc'))('turns a profiling process killed mid-run into a failed result, and profiles the next job', async () => {
    await fleet.controller.sendJob('pi-a', { jobId: 'killed-1', kind: 'profile', artifact: small, options: { durationS: 60, warmup: 2 } });
    await waitFor(() => agentLogs(agent, 'profiling', 'killed-1').length > 0, 15_000, 'the job to start');
    const child = await waitFor(() => profilingChild(agent.child.pid!), 10_000, 'the profiling process');
    process.kill(child, 'SIGKILL');
    const killed = await waitFor(() => fleet.controller.profiles.get('killed-1'), 15_000, 'the result of the killed run');
    expect(killed).toMatchObject({ ok: false, artifactSha256: small.sha256 });
    expect(killed.error).toMatch(/profiling process was killed \(SIGKILL/);
    expect(agent.child.exitCode).toBeNull();

    await fleet.controller.sendJob('pi-a', { jobId: 'after-kill', kind: 'profile', artifact: small, options: { runs: 5, warmup: 1 } });
    const next = await waitFor(() => fleet.controller.profiles.get('after-kill'), 30_000, 'the next result');
    expect(next.ok).toBe(true);
    expect(next.profile!.model.n).toBe(5);
  });
});

/** The agent's forked profiling process (Linux /proc), if one runs now. */
async function profilingChild(agentPid: number): Promise<number | undefined> {
  for (const name of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      const stat = await readFile(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid !== agentPid) continue;
      if ((await readFile(`/proc/${name}/cmdline`, 'utf8')).includes('child.js')) return Number(name);
    } catch {
      // the process ended while we looked
    }
  }
  return undefined;
}
