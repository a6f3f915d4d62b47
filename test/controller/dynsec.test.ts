// Live provisioning in a real Mosquitto 2 with its dynamic-security plugin,
// started here on a free port from what `broker-config --dynsec` writes: a
// device `devices add` registers connects on its first attempt, with no
// broker restart and no file rewritten; rotate-token refuses the old token;
// remove refuses the device and clears its retained topics; the controller
// reconciles the plugin with the registry at start and after a reconnect.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startController, type Controller } from '../../controller/controller.js';
import { openDb } from '../../controller/db.js';
import { RETAINED_CHANNELS } from '../../controller/device-lifecycle.js';
import { CONTROL_TOPIC, deviceRole } from '../../controller/dynsec/acl.js';
import { DYNSEC_FILE } from '../../controller/dynsec/config-file.js';
import { DYNSEC_PLUGIN_PATHS } from '../../controller/mosquitto-config.js';
import { CONTROLLER_USER, Registry } from '../../controller/registry.js';
import { loadOrCreateSecret } from '../../controller/secrets.js';
import { encodeFor } from '../../protocol/channels.js';
import { deviceTopic, PROTOCOL_VERSION } from '../../protocol/topics.js';
import { runCli } from '../helpers/cli.js';
import { freePort } from '../helpers/free-port.js';
import { captureLogger } from '../helpers/log.js';
import { connectOnce, retainedOn } from '../helpers/mqtt-probe.js';
import { waitFor, waitForListening } from '../helpers/wait.js';
import { adminApi } from '../helpers/admin-api.js';

const mosquittoBin = ['/usr/sbin/mosquitto', '/usr/bin/mosquitto'].find((p) => spawnSync(p, ['-h']).status !== null);
const plugin = DYNSEC_PLUGIN_PATHS.find((p) => existsSync(p));
const missing = !mosquittoBin ? 'mosquitto is not installed' : !plugin ? 'the dynamic-security plugin (mosquitto_dynamic_security.so) is not installed' : undefined;
if (missing) console.warn(`dynsec.test: skipped: ${missing}`);

describe.skipIf(missing !== undefined)('devices on Mosquitto with its dynamic-security plugin (needs mosquitto and its plugin)', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'edgefit-dynsec-'));
  const dataDir = path.join(dir, 'data');
  const out = path.join(dir, 'mosquitto');
  const capture = captureLogger();
  const clients: MqttClient[] = [];
  const tokens: Record<string, string> = {};
  let mosquitto: ChildProcess;
  let controller: Controller;
  let brokerUrl: string;
  let port: number;
  let secret: string;

  const startMosquitto = async () => {
    mosquitto = spawn(mosquittoBin!, ['-c', path.join(out, 'mosquitto.conf')], { stdio: 'ignore' });
    await waitForListening(port, 'mosquitto listening');
  };
  const api = adminApi(() => controller);
  const keep = (r: Awaited<ReturnType<typeof connectOnce>>) => {
    if ('client' in r) clients.push(r.client);
    return r;
  };
  const retainedTopics = (id: string) => RETAINED_CHANNELS.map((c) => deviceTopic(id, c));

  beforeAll(async () => {
    // Registered before the broker existed: 'old-1' goes into the plugin's starting file with its stored hash,
    // 'stale-1' too, and is removed afterwards, so the controller's first reconcile must delete its client.
    const db = openDb(dataDir);
    const registry = new Registry(db);
    tokens['old-1'] = registry.add('old-1');
    tokens['stale-1'] = registry.add('stale-1');
    db.close();
    port = await freePort();
    const generated = await runCli(['broker-config', '--dynsec', '--out', out, '--data', dataDir, '--port', String(port)]);
    expect(generated.code, generated.output).toBe(0);
    expect(readFileSync(path.join(out, 'mosquitto.conf'), 'utf8')).toContain(`plugin ${plugin}`);
    const removing = openDb(dataDir);
    new Registry(removing).remove('stale-1');
    removing.close();
    // Mosquitto started as root drops to its own user, which must read the file and write it back beside itself.
    for (const p of [dir, out]) chmodSync(p, 0o777);
    chmodSync(path.join(out, DYNSEC_FILE), 0o666);
    brokerUrl = `mqtt://127.0.0.1:${port}`;
    await startMosquitto();
    secret = loadOrCreateSecret(dataDir, 'controller.secret');
    controller = await startController({ dataDir, brokerUrl, brokerDynsec: true, mqttPort: 0, httpPort: 0, host: '127.0.0.1', log: capture.log });
  });

  afterAll(async () => {
    for (const c of clients) c.end(true);
    await controller?.close();
    mosquitto?.kill();
    rmSync(dir, { recursive: true, force: true });
  });

  it("takes the registry's hashes from broker-config's file, and the first reconcile deletes a device removed since", async () => {
    expect('client' in keep(await connectOnce(brokerUrl, 'old-1', tokens['old-1']))).toBe(true);
    expect(await connectOnce(brokerUrl, 'stale-1', tokens['stale-1'])).toMatchObject({ refused: expect.any(Number) });
    expect(await connectOnce(brokerUrl, 'old-1', 'wrong')).toMatchObject({ refused: expect.any(Number) });
  });

  it('lets a device added by `devices add` connect at once, with no broker restart, to its own topics only', async () => {
    const pid = mosquitto.pid;
    const added = await runCli(['devices', 'add', 'cam-1', '--json', '--data', dataDir]);
    expect(added.code, added.output).toBe(0);
    tokens['cam-1'] = (JSON.parse(added.output) as { token: string }).token;
    // the first attempt, right after the command answered: no retry, no wait
    const started = Date.now();
    const first = keep(await connectOnce(brokerUrl, 'cam-1', tokens['cam-1']));
    const ms = Date.now() - started;
    expect('client' in first, `refused with CONNACK ${'refused' in first ? first.refused : ''}`).toBe(true);
    console.info(`dynsec.test: cam-1 connected ${ms} ms after 'devices add' answered`);
    expect(mosquitto.pid).toBe(pid);
    expect(mosquitto.exitCode).toBeNull();
    const client = (first as { client: MqttClient }).client;
    await client.publishAsync(deviceTopic('cam-1', 'hello'), encodeFor('hello', { v: PROTOCOL_VERSION, ts: Date.now(), deviceClass: 'ffffffffffffffff', inventory: { hostname: 'sim', cpuModel: 'x', cpuCores: 1, cpuPhysicalCores: 1, arch: 'arm64', memTotalBytes: 1024 ** 3, os: 'Linux', kernel: '6', boardModel: null, gpus: [], executionProviders: ['cpu'], onnxruntimeVersion: '1', edgefitVersion: '0' } }), { qos: 1 });
    await waitFor(() => controller.registry.get('cam-1')?.online, 5000, 'cam-1 online through mosquitto');
    // another device's topic is not its own: the plugin drops the publish, old-1 stays as it was
    await client.publishAsync(deviceTopic('old-1', 'hello'), encodeFor('hello', { v: PROTOCOL_VERSION, ts: Date.now(), deviceClass: 'eeeeeeeeeeeeeeee', inventory: { hostname: 'sim', cpuModel: 'x', cpuCores: 1, cpuPhysicalCores: 1, arch: 'arm64', memTotalBytes: 1024 ** 3, os: 'Linux', kernel: '6', boardModel: null, gpus: [], executionProviders: ['cpu'], onnxruntimeVersion: '1', edgefitVersion: '0' } }), { qos: 1 });
    // ordered after it on the same connection: once cam-1's own heartbeat is in, the foreign hello would have been too
    await client.publishAsync(deviceTopic('cam-1', 'heartbeat'), encodeFor('heartbeat', { v: PROTOCOL_VERSION, ts: Date.now(), uptimeS: 1, agentUptimeS: 1, load1: 0, memUsedBytes: 1, memTotalBytes: 2, temperatureC: null }), { qos: 1 });
    await waitFor(() => controller.registry.get('cam-1')?.heartbeat, 5000, "cam-1's heartbeat");
    expect(controller.registry.get('old-1')?.deviceClass).toBeNull();
  });

  it('refuses the old token after rotate-token, and ends the session that used it', async () => {
    const session = await connectOnce(brokerUrl, 'cam-1', tokens['cam-1'], 'cam-1-session');
    if (!('client' in session)) throw new Error('cam-1 refused before the rotation');
    const ended = new Promise<void>((resolve) => session.client.once('close', () => resolve()));
    const rotated = await runCli(['devices', 'rotate-token', 'cam-1', '--json', '--data', dataDir]);
    expect(rotated.code, rotated.output).toBe(0);
    const fresh = (JSON.parse(rotated.output) as { token: string; broker: string }).token;
    expect(JSON.parse(rotated.output)).toMatchObject({ broker: 'dynsec', disconnected: true });
    await ended;
    expect(await connectOnce(brokerUrl, 'cam-1', tokens['cam-1'])).toMatchObject({ refused: expect.any(Number) });
    expect('client' in keep(await connectOnce(brokerUrl, 'cam-1', fresh))).toBe(true);
    tokens['cam-1'] = fresh;
  });

  it('refuses a removed device and clears its retained topics; its id may be added again', async () => {
    const device = keep(await connectOnce(brokerUrl, 'cam-1', tokens['cam-1'], 'cam-1-retained'));
    if (!('client' in device)) throw new Error('cam-1 refused before the removal');
    await device.client.publishAsync(deviceTopic('cam-1', 'presence'), encodeFor('presence', { v: PROTOCOL_VERSION, ts: Date.now(), state: 'online' }), { qos: 1, retain: true });
    await device.client.publishAsync(deviceTopic('cam-1', 'reported'), encodeFor('reported', { v: PROTOCOL_VERSION, ts: Date.now(), generation: 1, state: 'healthy', activeModel: null, slo: null }), { qos: 1, retain: true });
    await controller.setDesired('cam-1', { model: null });
    const probe = () => retainedOn(brokerUrl, CONTROLLER_USER, secret, retainedTopics('cam-1'), `${deviceTopic('cam-1', 'hello')}-probe`);
    expect(await probe()).toEqual(retainedTopics('cam-1').sort());

    const removed = await runCli(['devices', 'remove', 'cam-1', '--data', dataDir]);
    expect(removed.code, removed.output).toBe(0);
    expect(removed.output).toMatch(/^device 'cam-1' removed: its client deleted from the broker's dynamic security, 3 retained topics cleared/m);
    expect(await connectOnce(brokerUrl, 'cam-1', tokens['cam-1'])).toMatchObject({ refused: expect.any(Number) });
    expect(await probe()).toEqual([]);

    const again = await api('POST', '/api/devices', { id: 'cam-1' });
    expect(again.status).toBe(201);
    expect('client' in keep(await connectOnce(brokerUrl, 'cam-1', again.body.token as string))).toBe(true);
  });

  it('reconciles after a broker restart: a device client left behind the registry is deleted', async () => {
    // a leftover as a removal the controller never saw would leave it: a device role and its client, no registered device
    const admin = keep(await connectOnce(brokerUrl, CONTROLLER_USER, secret));
    if (!('client' in admin)) throw new Error('the controller user was refused');
    await admin.client.publishAsync(
      CONTROL_TOPIC,
      JSON.stringify({ commands: [{ command: 'createRole', rolename: deviceRole('ghost') }, { command: 'createClient', username: 'ghost', password: 'ghost-token', roles: [{ rolename: deviceRole('ghost') }] }] }),
      { qos: 1 },
    );
    await waitFor(async () => 'client' in keep(await connectOnce(brokerUrl, 'ghost', 'ghost-token')), 5000, 'the ghost client made');
    const reconciled = () => capture.lines().filter((l) => l.msg === 'dynamic security: broker brought in step with the registry').length;
    const before = reconciled();
    mosquitto.kill('SIGKILL');
    await new Promise((r) => mosquitto.once('exit', r));
    await startMosquitto();
    await waitFor(() => reconciled() > before, 15_000, 'the reconcile after the reconnect');
    expect(await connectOnce(brokerUrl, 'ghost', 'ghost-token')).toMatchObject({ refused: expect.any(Number) });
    expect('client' in keep(await connectOnce(brokerUrl, 'old-1', tokens['old-1']))).toBe(true);
  }, 30_000);
});
