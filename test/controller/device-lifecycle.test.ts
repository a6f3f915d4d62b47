// A device's removal and token rotation on the embedded broker, whose auth
// reads the registry: through the HTTP API and the CLI, against a real
// controller, real MQTT clients, and a real agent that takes a rotated token
// from its --token-file without a restart. Mosquitto's dynamic-security path
// is dynsec.test.ts.
import type { MqttClient } from 'mqtt';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startController, type Controller } from '../../controller/controller.js';
import { RETAINED_CHANNELS } from '../../controller/device-lifecycle.js';
import { CONTROLLER_USER } from '../../controller/registry.js';
import { loadOrCreateSecret } from '../../controller/secrets.js';
import { encodeFor } from '../../protocol/channels.js';
import { deviceTopic, PROTOCOL_VERSION } from '../../protocol/topics.js';
import { runCli, spawnCli, stop, type CliProcess } from '../helpers/cli.js';
import { captureLogger } from '../helpers/log.js';
import { connectOnce, retainedOn } from '../helpers/mqtt-probe.js';
import { waitFor } from '../helpers/wait.js';
import { adminApi } from '../helpers/admin-api.js';

describe('device lifecycle on the embedded broker', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'edgefit-lifecycle-'));
  const dataDir = path.join(dir, 'data');
  const capture = captureLogger();
  let controller: Controller;
  let secret: string;
  const clients: MqttClient[] = [];
  let agent: CliProcess | undefined;

  const api = adminApi(() => controller);
  const basic = (id: string, token: string) => `Basic ${Buffer.from(`${id}:${token}`).toString('base64')}`;
  const enroll = async (id: string, token: string) => (await fetch(`${controller.httpUrl}/enroll/key`, { headers: { authorization: basic(id, token) } })).status;
  async function connected(id: string, token: string): Promise<MqttClient> {
    const r = await connectOnce(controller.brokerUrl, id, token);
    if (!('client' in r)) throw new Error(`${id} refused with code ${r.refused}`);
    clients.push(r.client);
    return r.client;
  }
  const retainedTopics = (id: string) => RETAINED_CHANNELS.map((c) => deviceTopic(id, c));
  const retained = (id: string) => retainedOn(controller.brokerUrl, CONTROLLER_USER, secret, retainedTopics(id), `${deviceTopic(id, 'hello')}-probe`);

  beforeAll(async () => {
    controller = await startController({ dataDir, mqttPort: 0, httpPort: 0, host: '127.0.0.1', log: capture.log });
    secret = loadOrCreateSecret(dataDir, 'controller.secret');
  });
  afterAll(async () => {
    await stop(agent);
    for (const c of clients) c.end(true);
    await controller?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('rotates a token: the old one is refused on MQTT and HTTP from then on, its open session ends, the new one works', async () => {
    const added = await api('POST', '/api/devices', { id: 'cam-1' });
    expect(added.status).toBe(201);
    const old = added.body.token as string;
    const session = await connected('cam-1', old);
    const ended = new Promise<void>((resolve) => session.once('close', () => resolve()));
    expect(await enroll('cam-1', old)).toBe(200);

    const rotated = await api('POST', '/api/devices/cam-1/token');
    expect(rotated.status).toBe(200);
    expect(rotated.body).toMatchObject({ id: 'cam-1', broker: 'embedded', disconnected: true });
    const fresh = rotated.body.token as string;
    expect(fresh).not.toBe(old);
    await ended;
    expect(await connectOnce(controller.brokerUrl, 'cam-1', old)).toEqual({ refused: 4 });
    expect(await enroll('cam-1', old)).toBe(401);
    await connected('cam-1', fresh);
    expect(await enroll('cam-1', fresh)).toBe(200);
    expect((await api('POST', '/api/devices/nope/token')).status).toBe(404);
  });

  it('removes a device: refused, its retained topics cleared, its messages dropped, its row kept marked removed; its id may be added again', async () => {
    const token = (await api('POST', '/api/devices', { id: 'cam-2', labels: { site: 'lab' } })).body.token as string;
    const device = await connected('cam-2', token);
    const ended = new Promise<void>((resolve) => device.once('close', () => resolve()));
    await device.publishAsync(deviceTopic('cam-2', 'presence'), encodeFor('presence', { v: PROTOCOL_VERSION, ts: Date.now(), state: 'online' }), { qos: 1, retain: true });
    await device.publishAsync(deviceTopic('cam-2', 'reported'), encodeFor('reported', { v: PROTOCOL_VERSION, ts: Date.now(), generation: 1, state: 'healthy', activeModel: null, slo: null }), { qos: 1, retain: true });
    await controller.setDesired('cam-2', { model: null });
    await waitFor(() => controller.registry.get('cam-2')?.online, 5000, 'cam-2 online');
    // the probe sees what the broker keeps: the control for the check after removal
    expect(await retained('cam-2')).toEqual(retainedTopics('cam-2').sort());

    const removed = await api('DELETE', '/api/devices/cam-2');
    expect(removed.status).toBe(200);
    expect(removed.body).toMatchObject({ id: 'cam-2', again: false, broker: 'embedded', revoked: true, retainedCleared: retainedTopics('cam-2') });
    await ended;
    expect(await connectOnce(controller.brokerUrl, 'cam-2', token)).toEqual({ refused: 4 });
    expect(await enroll('cam-2', token)).toBe(401);
    expect(await retained('cam-2')).toEqual([]);
    // what arrives in its name (here from the controller's own user, which may write anywhere) is dropped as unregistered
    const admin = await connectOnce(controller.brokerUrl, CONTROLLER_USER, secret);
    if (!('client' in admin)) throw new Error('the controller user was refused');
    clients.push(admin.client);
    await admin.client.publishAsync(deviceTopic('cam-2', 'heartbeat'), encodeFor('heartbeat', { v: PROTOCOL_VERSION, ts: Date.now(), uptimeS: 1, agentUptimeS: 1, load1: 0, memUsedBytes: 1, memTotalBytes: 2, temperatureC: null }), { qos: 1 });
    await waitFor(() => capture.lines().find((l) => l.msg === 'message from unregistered device dropped' && l.device === 'cam-2'), 5000, 'the heartbeat dropped');

    expect(controller.registry.get('cam-2')).toBeUndefined();
    expect(controller.registry.get('cam-2', { includeRemoved: true })).toMatchObject({ id: 'cam-2', labels: { site: 'lab' }, removedAt: removed.body.removedAt });
    const list = await api('GET', '/api/devices');
    expect((list.body.devices as Array<{ id: string }>).map((d) => d.id)).not.toContain('cam-2');
    const all = await api('GET', '/api/devices?removed=include');
    expect((all.body.devices as Array<{ id: string; removedAt?: number }>).find((d) => d.id === 'cam-2')?.removedAt).toBe(removed.body.removedAt);
    expect((await api('POST', '/api/devices/cam-2/token')).status).toBe(404);
    // removing again repeats the broker and retained steps and says so; an id never registered is 404
    expect((await api('DELETE', '/api/devices/cam-2')).body).toMatchObject({ again: true, removedAt: removed.body.removedAt });
    expect((await api('DELETE', '/api/devices/nope')).status).toBe(404);

    const again = await api('POST', '/api/devices', { id: 'cam-2' });
    expect(again.status).toBe(201);
    expect(controller.registry.get('cam-2')).toMatchObject({ labels: {}, online: false, firstSeen: null });
    await connected('cam-2', again.body.token as string);
  });

  it('a running agent with --token-file takes a rotated token without a restart; remove and the removed list from the CLI', async () => {
    const token = (await api('POST', '/api/devices', { id: 'pi-tf' })).body.token as string;
    const tokenFile = path.join(dir, 'pi-tf.token');
    writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
    const running = spawnCli(['agent', '--broker', controller.brokerUrl, '--id', 'pi-tf', '--token-file', tokenFile, '--state', path.join(dir, 'agent'), '--heartbeat', '1', '--snapshot-every', '0']);
    agent = running;
    await waitFor(() => controller.registry.get('pi-tf')?.online, 20_000, 'the agent online');
    const helloes = () => capture.lines().filter((l) => l.msg === 'device hello' && l.device === 'pi-tf').length;
    const before = helloes();

    // through the API, which answers as soon as the session is ended: the file then usually holds the new token
    // before the agent's first retry (0.5-1 s later); if not, the refusal after the next wait reads it (the CLI's
    // rotate-token is in dynsec.test.ts)
    const rotated = await api('POST', '/api/devices/pi-tf/token');
    expect(rotated.status).toBe(200);
    writeFileSync(tokenFile, `${rotated.body.token as string}\n`);
    // refused with the old token, it reads the file again and comes back: a new hello, no restart
    await waitFor(() => helloes() > before && controller.registry.get('pi-tf')?.online, 20_000, 'the agent back with the new token');
    expect(running.child.exitCode).toBeNull();
    // the agent logs the reload before it reconnects, but its stdout pipe and the broker's socket are read in
    // whichever order the event loop finds them: the hello can be here before the line is (a full run saw that)
    await waitFor(() => /the token file holds another: connecting with it/.test(running.output()), 5_000, "the agent's log of the reloaded token");

    const removed = await runCli(['devices', 'remove', 'pi-tf', '--data', dataDir]);
    expect(removed.code, removed.output).toBe(0);
    expect(removed.output).toMatch(/^device 'pi-tf' removed: its token refused by the broker, 3 retained topics cleared/m);
    expect(controller.registry.get('pi-tf')).toBeUndefined();
    const listed = await runCli(['devices', '--removed', '--data', dataDir]);
    expect(listed.output).toMatch(/^pi-tf\s+removed\s/m);
  }, 60_000);
});
