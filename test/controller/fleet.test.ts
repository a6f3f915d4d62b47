import mqtt from 'mqtt';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startController, type Controller } from '../../controller/controller.js';
import { encode } from '../../protocol/messages.js';
import { MAX_PAYLOAD_BYTES, deviceTopic } from '../../protocol/topics.js';
import { spawnCli, stop, type CliProcess } from '../helpers/cli.js';
import { captureLogger } from '../helpers/log.js';
import { waitFor } from '../helpers/wait.js';

const KEEPALIVE_S = 2;

describe('controller ⇄ agents on the embedded broker', () => {
  let dataDir: string;
  let controller: Controller;
  let capture: ReturnType<typeof captureLogger>;
  const agents: CliProcess[] = [];
  let tokens: Record<string, string> = {};
  let mqttPort = 0;

  async function start(): Promise<void> {
    capture = captureLogger();
    controller = await startController({ dataDir, mqttPort, httpPort: 0, host: '127.0.0.1', log: capture.log });
    mqttPort = Number(new URL(controller.brokerUrl).port);
  }

  function startAgent(id: string): CliProcess {
    const agent = spawnCli(['agent', '--broker', controller.brokerUrl, '--id', id, '--heartbeat', '1', '--keepalive', String(KEEPALIVE_S)], { EDGEFIT_TOKEN: tokens[id] });
    agents.push(agent);
    return agent;
  }

  async function api<T>(p: string, init: RequestInit = {}): Promise<{ status: number; body: T }> {
    const res = await fetch(controller.httpUrl + p, { ...init, headers: { authorization: `Bearer ${controller.adminToken}`, 'content-type': 'application/json', ...init.headers } });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
  }

  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'edgefit-fleet-'));
    await start();
    tokens = { 'pi-a': controller.registry.add('pi-a'), 'pi-b': controller.registry.add('pi-b', { site: 'lab' }) };
  });

  afterAll(async () => {
    await Promise.all(agents.map((a) => stop(a)));
    await controller.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('registers real agent processes with inventory, and identical hardware shares a class', async () => {
    startAgent('pi-a');
    startAgent('pi-b');
    await waitFor(() => controller.registry.list().every((d) => d.online && d.inventory && d.heartbeat), 15_000, 'both agents online with a heartbeat');
    const { status, body } = await api<{ devices: Array<{ id: string; deviceClass: string; inventory: { cpuCores: number; arch: string; executionProviders: string[] } }> }>('/api/devices');
    expect(status).toBe(200);
    expect(body.devices.map((d) => d.id)).toEqual(['pi-a', 'pi-b']);
    for (const d of body.devices) {
      expect(d.inventory.cpuCores).toBe(os.cpus().length);
      expect(d.inventory.arch).toBe(os.arch());
      expect(d.inventory.executionProviders).toContain('cpu');
    }
    expect(body.devices[0].deviceClass).toMatch(/^[0-9a-f]{16}$/);
    expect(body.devices[0].deviceClass).toBe(body.devices[1].deviceClass);
    const one = await api<{ id: string; labels: Record<string, string> }>('/api/devices/pi-b');
    expect(one.body.labels).toEqual({ site: 'lab' });
  });

  it('refuses the API without the admin token', async () => {
    const res = await fetch(controller.httpUrl + '/api/devices');
    expect(res.status).toBe(401);
  });

  it('refuses a wrong token at connect', async () => {
    const client = mqtt.connect(controller.brokerUrl, { username: 'pi-a', password: 'wrong', reconnectPeriod: 0 });
    const err = await new Promise<Error & { code?: number }>((resolve) => client.once('error', resolve));
    client.end(true);
    expect(err.code).toBe(4);
  });

  it("drops a device's publish under another device's topic, and a malformed hello, and keeps serving", async () => {
    const before = controller.registry.get('pi-b')!;
    const intruder = mqtt.connect(controller.brokerUrl, { username: 'pi-a', password: tokens['pi-a'], clientId: 'intruder', reconnectPeriod: 0 });
    await new Promise((r) => intruder.once('connect', r));
    const forged = { v: 1, ts: Date.now(), inventory: { ...before.inventory!, hostname: 'forged' }, deviceClass: '0123456789abcdef' };
    intruder.publish(deviceTopic('pi-b', 'hello'), encode(forged), { qos: 0 });
    await waitFor(() => capture.lines().some((l) => l.msg === 'mqtt publish refused by ACL'), 5000, 'ACL refusal log');
    intruder.end(true);

    const own = mqtt.connect(controller.brokerUrl, { username: 'pi-a', password: tokens['pi-a'], clientId: 'malformed', reconnectPeriod: 0 });
    await new Promise((r) => own.once('connect', r));
    await own.publishAsync(deviceTopic('pi-a', 'hello'), Buffer.from('{"v":1,"ts":1,"inventory":{"cpuCores":-3}}'), { qos: 1 });
    await own.publishAsync(deviceTopic('pi-a', 'hello'), Buffer.from('not json at all'), { qos: 1 });
    await waitFor(() => capture.lines().filter((l) => l.msg === 'malformed hello dropped').length >= 2, 5000, 'malformed hello logs');
    const reasons = capture.lines().filter((l) => l.msg === 'malformed hello dropped').map((l) => l.reason);
    expect(reasons).toContain('payload is not JSON');
    expect(reasons.some((r) => String(r).startsWith('inventory.'))).toBe(true);
    own.end(true);

    const after = controller.registry.get('pi-b')!;
    expect(after.inventory!.hostname).toBe(before.inventory!.hostname);
    expect(after.deviceClass).toBe(before.deviceClass);
    expect((await api('/api/devices')).status).toBe(200);
  });

  it('refuses payloads over 1 MiB', async () => {
    const client = mqtt.connect(controller.brokerUrl, { username: 'pi-a', password: tokens['pi-a'], clientId: 'big', reconnectPeriod: 0 });
    await new Promise((r) => client.once('connect', r));
    const closed = new Promise<void>((r) => client.once('close', () => r()));
    client.publish(deviceTopic('pi-a', 'telemetry'), Buffer.alloc(MAX_PAYLOAD_BYTES + 1024 * 1024, 1), { qos: 0 });
    await closed;
    client.end(true);
    expect(capture.lines().some((l) => String(l.msg).includes('over the payload limit'))).toBe(true);
  });

  it('marks a SIGKILLed agent offline within 1.5 × keepalive', async () => {
    const agent = agents[0];
    await waitFor(() => controller.registry.get('pi-a')?.online, 10_000, 'pi-a online');
    const killedAt = Date.now();
    agent.child.kill('SIGKILL');
    await waitFor(() => controller.registry.get('pi-a')?.online === false, 1.5 * KEEPALIVE_S * 1000 + 500, 'pi-a offline', 20);
    expect(Date.now() - killedAt).toBeLessThanOrEqual(1.5 * KEEPALIVE_S * 1000 + 500);
    expect(controller.registry.get('pi-b')!.online).toBe(true);
  });

  it('keeps every device and its labels across a controller restart, and agents come back', async () => {
    expect((await api('/api/devices/pi-b/labels', { method: 'POST', body: JSON.stringify({ labels: { zone: 'north', site: null } }) })).status).toBe(200);
    await controller.close();
    await start();
    const devices = controller.registry.list();
    expect(devices.map((d) => d.id)).toEqual(['pi-a', 'pi-b']);
    expect(controller.registry.get('pi-b')!.labels).toEqual({ zone: 'north' });
    expect(controller.registry.get('pi-a')!.inventory).not.toBeNull();
    await waitFor(() => controller.registry.get('pi-b')?.online, 15_000, 'pi-b reconnected after restart');
  });

  it('answers bad requests with a clear error', async () => {
    const bad = await api<{ message: string }>('/api/devices', { method: 'POST', body: JSON.stringify({ id: 'bad/id' }) });
    expect(bad.status).toBe(400);
    expect(bad.body.message).toMatch(/invalid device id/);
    const dup = await api<{ message: string }>('/api/devices', { method: 'POST', body: JSON.stringify({ id: 'pi-a' }) });
    expect(dup.status).toBe(409);
    const missing = await api('/api/devices/nope');
    expect(missing.status).toBe(404);
  });
});
