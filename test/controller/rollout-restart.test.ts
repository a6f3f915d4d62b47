import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PUBLIC_KEY_FILE } from '../../controller/artifacts/signing.js';
import type { rolloutStatus } from '../../controller/rollout/status.js';
import { TERMINAL, type DeviceState } from '../../controller/rollout/states.js';
import { writeModel } from '../../compress/onnx/write.js';
import { buildYolov8 } from '../../compress/yolo/builder.js';
import type { Reported } from '../../protocol/messages.js';
import { spawnCli, stop, type CliProcess } from '../helpers/cli.js';
import { waitFor } from '../helpers/wait.js';
import { freePort } from '../helpers/free-port.js';

type Status = ReturnType<typeof rolloutStatus>;

/** A port nothing listens on now: the restarted controller must come back on the same one. */
// The controller is a real process, killed with SIGKILL in the middle of a
// rollout (nothing flushed, nothing closed) and started again on the same data
// dir and ports; two real agents keep running throughout.
describe('a controller killed mid-rollout resumes it after restart', () => {
  let dataDir: string;
  let httpPort = 0;
  let mqttPort = 0;
  let controller: CliProcess | undefined;
  let adminToken = '';
  const agents: CliProcess[] = [];
  const ids = ['dev-a', 'dev-b'];
  const url = () => `http://127.0.0.1:${httpPort}`;

  async function api<T>(method: string, p: string, body?: unknown, raw?: Uint8Array): Promise<{ status: number; body: T }> {
    const headers: Record<string, string> = { authorization: `Bearer ${adminToken}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (raw) headers['content-type'] = 'application/octet-stream';
    const res = await fetch(url() + p, { method, headers, body: raw ? new Blob([Uint8Array.from(raw)]) : body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
  }

  async function startController(): Promise<void> {
    controller = spawnCli(['controller', '--data', dataDir, '--port', String(httpPort), '--mqtt-port', String(mqttPort), '--host', '127.0.0.1'], { EDGEFIT_LOG_LEVEL: 'info' });
    await waitFor(async () => {
      if (controller!.child.exitCode !== null) throw new Error(`controller exited: ${controller!.output().slice(-2000)}`);
      adminToken = readFileSync(path.join(dataDir, 'admin.token'), 'utf8').trim();
      return (await fetch(`${url()}/api/devices`, { headers: { authorization: `Bearer ${adminToken}` } })).ok;
    }, 30_000, 'the controller to answer', 200);
  }

  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'edgefit-restart-'));
    httpPort = await freePort();
    mqttPort = await freePort();
    await startController();
    for (const id of ids) {
      const added = await api<{ token: string }>('POST', '/api/devices', { id });
      expect(added.status).toBe(201);
      const args = ['agent', '--broker', `mqtt://127.0.0.1:${mqttPort}`, '--id', id, '--controller', url(), '--controller-key', path.join(dataDir, PUBLIC_KEY_FILE), '--state', path.join(dataDir, `agent-${id}`), '--heartbeat', '1', '--keepalive', '5', '--threads', '1', '--class-salt', id];
      agents.push(spawnCli(args, { EDGEFIT_TOKEN: added.body.token, EDGEFIT_LOG_LEVEL: 'info' }));
    }
  }, 60_000);

  afterAll(async () => {
    await Promise.all(agents.map((a) => stop(a)));
    await stop(controller);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('finishes the rollout and leaves every device in a terminal state that matches what it reports', async () => {
    const added = await api<{ model: { id: string }; job: { id: string } }>('POST', '/api/models?name=yolov8n-restart&ladder=quick&sizes=128,96', undefined, writeModel(buildYolov8({ scale: 'n', imgsz: 128, nc: 4 })));
    expect(added.status).toBe(202);
    await waitFor(async () => {
      const job = (await api<{ state: string; error: string | null }>('GET', `/api/ladder-jobs/${added.body.job.id}`)).body;
      if (job.state === 'failed') throw new Error(`ladder failed: ${job.error}`);
      return job.state === 'done';
    }, 60_000, 'the ladder', 200);
    await waitFor(async () => (await api<{ devices: Array<{ id: string; online: boolean; deviceClass: string | null }> }>('GET', '/api/devices')).body.devices.filter((d) => d.online && d.deviceClass).length === 2, 30_000, 'both agents online');

    const created = await api<{ id: string }>('POST', '/api/rollouts', {
      model: added.body.model.id,
      slo: { minFps: 1 },
      stages: { canary: 1, phases: ['100%'] },
      profile: { durationS: 2, warmup: 2 },
      deviceTimeoutS: 120,
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const id = created.body.id;

    // Kill it while a device is profiling: a job is in flight and its result not yet stored.
    const during = await waitFor(async () => {
      const s = (await api<Status>('GET', `/api/rollouts/${id}`)).body;
      return s.devices.some((d) => d.state === 'profiling') && s.classes.some((c) => c.measurements.some((m) => m.outcome === null)) ? s : undefined;
    }, 60_000, 'a device profiling', 50);
    await stop(controller, 'SIGKILL');
    expect(controller!.child.signalCode).toBe('SIGKILL');
    expect(during.state).toBe('running');

    await startController();
    const final = await waitFor(async () => {
      const s = (await api<Status>('GET', `/api/rollouts/${id}`)).body;
      return s.state === 'completed' || s.state === 'aborted' ? s : undefined;
    }, 180_000, 'the rollout to finish after the restart', 250);
    expect(final.state, `${final.reason ?? ''}: ${final.devices.map((d) => `${d.deviceId} ${d.state} ${d.error ?? ''}`).join('; ')}`).toBe('completed');
    expect(final.devices).toHaveLength(2);
    for (const d of final.devices) {
      expect(TERMINAL.has(d.state as DeviceState)).toBe(true);
      expect(d.state).toBe('healthy');
      expect(d.explanation).toMatch(/meets the service level/);
      // What the device reports is what the controller wanted: this rollout, this generation, healthy, serving the chosen candidate.
      const reported = await waitFor(async () => {
        const live = (await api<{ reported: Reported | null }>('GET', `/api/devices/${d.deviceId}`)).body.reported;
        return live?.generation === d.generation ? live : undefined;
      }, 30_000, `${d.deviceId} reporting generation ${d.generation}`);
      expect(reported).toMatchObject({ state: 'healthy', rolloutId: id, generation: d.generation });
    }
    await waitFor(async () => (await api<Status>('GET', `/api/rollouts/${id}`)).body.devices.every((d) => d.live?.servingChosen), 30_000, 'both devices serving their chosen candidate');
    // Every device's event log ends where the device is, and the restart left no profile without its result.
    const events = final.events.filter((e) => e.deviceId !== null);
    for (const d of final.devices) expect(events.filter((e) => e.deviceId === d.deviceId).at(-1)!.to).toBe(d.state);
    expect(final.classes.flatMap((c) => c.measurements).every((m) => m.outcome !== null)).toBe(true);
    // The job out at the kill was asked again when its device came back, not left to time out.
    expect(final.classes.flatMap((c) => c.measurements).filter((m) => m.outcome && !m.outcome.ok).map((m) => m.outcome)).toEqual([]);
  }, 300_000);
});
