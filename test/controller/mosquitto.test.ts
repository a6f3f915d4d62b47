import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startController, type Controller } from '../../controller/controller.js';
import { openDb } from '../../controller/db.js';
import { Registry } from '../../controller/registry.js';
import { encode } from '../../protocol/messages.js';
import { deviceTopic } from '../../protocol/topics.js';
import { runCli, spawnCli, stop, type CliProcess } from '../helpers/cli.js';
import { captureLogger } from '../helpers/log.js';
import { waitFor } from '../helpers/wait.js';

const mosquittoBin = ['/usr/sbin/mosquitto', '/usr/bin/mosquitto'].find((p) => spawnSync(p, ['-h']).status !== null);

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((r) => server.close(r));
  return port;
}

describe.skipIf(!mosquittoBin)('controller ⇄ agents through a real Mosquitto (needs the mosquitto package)', () => {
  let dir: string;
  let mosquitto: ChildProcess;
  let controller: Controller;
  const agents: CliProcess[] = [];
  const tokens: Record<string, string> = {};
  let brokerUrl: string;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'edgefit-mosq-'));
    const dataDir = path.join(dir, 'data');
    const db = openDb(dataDir);
    const registry = new Registry(db);
    tokens['jetson-1'] = registry.add('jetson-1');
    tokens['jetson-2'] = registry.add('jetson-2');
    db.close();

    const port = await freePort();
    const out = path.join(dir, 'mosquitto');
    const generated = await runCli(['broker-config', '--out', out, '--data', dataDir, '--port', String(port)]);
    expect(generated.code, generated.output).toBe(0);
    // Mosquitto started as root drops to its own user, which must be able to reach the owner-only files.
    for (const p of [dir, out, path.join(out, 'passwd')]) chmodSync(p, 0o755);
    mosquitto = spawn(mosquittoBin!, ['-c', path.join(out, 'mosquitto.conf')], { stdio: 'ignore' });
    brokerUrl = `mqtt://127.0.0.1:${port}`;
    await waitFor(
      () => new Promise<boolean>((resolve) => net.connect(port, '127.0.0.1').once('connect', function (this: net.Socket) { this.destroy(); resolve(true); }).once('error', () => resolve(false))),
      10_000,
      'mosquitto listening',
    );
    controller = await startController({ dataDir, brokerUrl, mqttPort: 0, httpPort: 0, host: '127.0.0.1', log: captureLogger().log });
  });

  afterAll(async () => {
    await Promise.all(agents.map((a) => stop(a)));
    await controller?.close();
    mosquitto?.kill();
    rmSync(dir, { recursive: true, force: true });
  });

  it('registers agents that connect through Mosquitto with generated credentials', async () => {
    for (const id of ['jetson-1', 'jetson-2']) agents.push(spawnCli(['agent', '--broker', brokerUrl, '--id', id, '--heartbeat', '1'], { EDGEFIT_TOKEN: tokens[id] }));
    await waitFor(() => controller.registry.list().every((d) => d.online && d.inventory), 15_000, 'agents online via mosquitto');
    const [a, b] = controller.registry.list();
    expect(a.deviceClass).toBe(b.deviceClass);
  });

  it("enforces the generated ACL: a device cannot write another device's topic", async () => {
    const before = controller.registry.get('jetson-2')!;
    const client = mqtt.connect(brokerUrl, { username: 'jetson-1', password: tokens['jetson-1'], reconnectPeriod: 0 });
    await new Promise((r) => client.once('connect', r));
    await client.publishAsync(deviceTopic('jetson-2', 'presence'), encode({ v: 1, ts: Date.now(), state: 'offline' }), { qos: 1 });
    await new Promise((r) => setTimeout(r, 500));
    client.end(true);
    expect(controller.registry.get('jetson-2')!.online).toBe(before.online);
  });

  it('refuses a wrong token', async () => {
    const client = mqtt.connect(brokerUrl, { username: 'jetson-1', password: 'nope', reconnectPeriod: 0 });
    const err = await new Promise<Error & { code?: number }>((resolve) => client.once('error', resolve));
    client.end(true);
    expect([4, 5]).toContain(err.code);
  });

  it('marks a SIGKILLed agent offline through its last will', async () => {
    agents[0].child.kill('SIGKILL');
    await waitFor(() => controller.registry.get('jetson-1')?.online === false, 5000, 'jetson-1 offline');
  });
});
