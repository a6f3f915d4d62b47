// The fleet loop over TLS: a real agent process given the controller's CA comes
// online over mqtts, downloads its model over https (signature and hash checked),
// goes healthy and goes offline on SIGTERM; on the embedded broker and on a real
// Mosquitto, both requiring client certificates. A device without one, or with
// one from another CA, is refused at the handshake; an agent given the wrong CA
// refuses the server in one line.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startController, type Controller } from '../../controller/controller.js';
import { openDb } from '../../controller/db.js';
import { Registry } from '../../controller/registry.js';
import { CA_FILE, issueDeviceCertificate } from '../../controller/tls/store.js';
import { createCa, issueCertificate } from '../../controller/tls/x509.js';
import type { ArtifactRef } from '../../protocol/artifacts.js';
import { runCli, runCliApart, spawnCli, stop, type CliProcess } from '../helpers/cli.js';
import { freePort } from '../helpers/free-port.js';
import { captureLogger } from '../helpers/log.js';
import { waitFor } from '../helpers/wait.js';
import { agentLogs, TestFleet } from './fleet.js';
import { builtYolov8n } from './models.js';

const mosquittoBin = ['/usr/sbin/mosquitto', '/usr/bin/mosquitto'].find((p) => spawnSync(p, ['-h']).status !== null);
/** The cheapest model that still goes through download, verification, activation and a health check. */
const IMGSZ = 32;

/** Files a device is handed: its certificate, key and the CA (what `devices add --cert-out` writes). */
async function deviceFiles(dir: string, dataDir: string, id: string): Promise<string[]> {
  const issued = await issueDeviceCertificate(dataDir, id);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'device.pem'), issued.certPem);
  writeFileSync(path.join(dir, 'device-key.pem'), issued.keyPem, { mode: 0o600 });
  return ['--cert', path.join(dir, 'device.pem'), '--key', path.join(dir, 'device-key.pem')];
}

/** Deploys the model and waits for the agent to report it healthy: the download went over https. */
async function deployAndSeeHealthy(controller: Controller, id: string, model: ArtifactRef, agent: CliProcess): Promise<void> {
  await controller.setDesired(id, { model, candidateId: `n${IMGSZ}`, threads: 1, slo: { minFps: 0.2 } });
  await waitFor(() => controller.live.get(id).reported?.state === 'healthy', 30_000, `${id} healthy`);
  expect(controller.live.get(id).reported!.activeModel).toMatchObject({ sha256: model.sha256 });
  expect(agentLogs(agent, 'artifact verified and installed')[0]).toMatchObject({ sha256: model.sha256 });
}

/** An MQTT client with the given TLS options: resolves to 'connected' or the refusal it met. */
async function tryConnect(url: string, id: string, token: string, tls: { ca: string; cert?: string; key?: string }): Promise<string> {
  try {
    // no retries: a connection the broker closes rejects rather than waiting for ever
    const client = await mqtt.connectAsync(url, { username: id, password: token, clientId: `probe-${id}-${Math.random()}`, reconnectPeriod: 0, connectTimeout: 5000, ...tls }, false);
    await client.endAsync();
    return 'connected';
  } catch (err) {
    return (err as Error).message;
  }
}

describe('the fleet loop over TLS on the embedded broker, client certificates required', () => {
  const fleet = new TestFleet();
  let model: ArtifactRef;
  let caFile: string;

  beforeAll(async () => {
    await fleet.start({ tls: { clientCerts: true } });
    caFile = path.join(fleet.dataDir, CA_FILE);
    model = await fleet.controller.artifacts.put(builtYolov8n(fleet.scratch, IMGSZ), { name: `yolov8n-${IMGSZ}.onnx` });
  });
  afterAll(() => fleet.close());

  it('serves mqtts and https only, with the plain listener on loopback', () => {
    expect(fleet.controller.brokerUrl).toMatch(/^mqtts:\/\/127\.0\.0\.1:\d+$/);
    expect(fleet.controller.httpUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(fleet.controller.localBrokerUrl).toMatch(/^mqtt:\/\/127\.0\.0\.1:\d+$/);
    expect(fleet.controller.caFile).toBe(caFile);
  });

  it("registers a device and issues its certificate through the CLI over https (trusting the data dir's CA); the agent with --ca comes online, gets its model over https, and goes offline on SIGTERM", async () => {
    const certDir = path.join(fleet.scratch, 'cert-tls-a');
    const added = await runCliApart(['devices', 'add', 'tls-a', '--data', fleet.dataDir, '--cert-out', certDir]);
    expect(added.code, added.stderr).toBe(0);
    const token = added.stdout.trim();
    expect(added.stderr).toContain(`wrote tls-a's client certificate to ${certDir}`);
    const agent = fleet.agent('tls-a', 1, { token, args: ['--ca', path.join(certDir, 'ca.pem'), '--cert', path.join(certDir, 'device.pem'), '--key', path.join(certDir, 'device-key.pem'), '--health-window', '1'] });
    await waitFor(() => fleet.controller.registry.get('tls-a')?.online, 20_000, 'tls-a online over mqtts');
    await deployAndSeeHealthy(fleet.controller, 'tls-a', model, agent);
    await stop(agent);
    await waitFor(() => fleet.controller.registry.get('tls-a')?.online === false, 10_000, 'tls-a offline after SIGTERM');
  });

  it('refuses at the handshake a device with no client certificate or one from another CA', async () => {
    const token = fleet.controller.registry.add('tls-b');
    const ca = readCa(caFile);
    const seen = fleet.capture.lines().length;
    expect(await tryConnect(fleet.controller.brokerUrl, 'tls-b', token, { ca })).not.toBe('connected');
    const stranger = await createCa({ commonName: 'stranger', days: 1 });
    const forged = await issueCertificate(stranger, { commonName: 'tls-b', usage: 'client', days: 1 });
    expect(await tryConnect(fleet.controller.brokerUrl, 'tls-b', token, { ca, cert: forged.certPem, key: forged.keyPem })).not.toBe('connected');
    await waitFor(() => fleet.capture.lines().slice(seen).filter((l) => l.msg === 'mqtts connection refused at the TLS handshake').length >= 2, 5000, 'two refusals logged');
    expect(fleet.controller.registry.get('tls-b')?.online).toBeFalsy();
    // the same token with its own certificate gets in
    const own = await issueDeviceCertificate(fleet.dataDir, 'tls-b');
    expect(await tryConnect(fleet.controller.brokerUrl, 'tls-b', token, { ca, cert: own.certPem, key: own.keyPem })).toBe('connected');
  });

  it('an agent given the wrong CA refuses the server with one clear line and exit 1', async () => {
    const token = fleet.controller.registry.add('tls-c');
    const wrong = await createCa({ commonName: 'wrong', days: 1 });
    const wrongFile = path.join(fleet.scratch, 'wrong-ca.pem');
    writeFileSync(wrongFile, wrong.certPem);
    const run = await runCliApart(['agent', '--broker', fleet.controller.brokerUrl, '--id', 'tls-c', '--controller', fleet.controller.httpUrl, '--state', path.join(fleet.scratch, 'state-tls-c'), '--ca', wrongFile], { env: { EDGEFIT_TOKEN: token }, limitMs: 20_000 });
    expect(run.killed).toBe(false);
    expect(run.code).toBe(1);
    const lines = run.stderr.trim().split('\n');
    expect(lines, run.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^edgefit agent: the broker at ${fleet.controller.brokerUrl.replace(/\./g, '\\.')} is not vouched for by --ca ${wrongFile.replace(/\./g, '\\.')} \\(SELF_SIGNED_CERT_IN_CHAIN\\)`));
  });
});

const readCa = (file: string) => readFileSync(file, 'utf8');

describe.skipIf(!mosquittoBin)('the fleet loop over TLS through a real Mosquitto, client certificates required (needs the mosquitto package)', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'edgefit-mosq-tls-'));
  const dataDir = path.join(dir, 'data');
  const logs = captureLogger();
  let mosquitto: ChildProcess | undefined;
  let controller: Controller;
  let brokerUrl: string;
  let token: string;

  beforeAll(async () => {
    const db = openDb(dataDir);
    token = new Registry(db).add('mq-tls');
    db.close();
    const [plain, tlsPort] = [await freePort(), await freePort()];
    const out = path.join(dir, 'mosquitto');
    const generated = await runCli(['broker-config', '--out', out, '--data', dataDir, '--port', String(plain), '--tls', '--tls-port', String(tlsPort), '--client-certs']);
    expect(generated.code, generated.output).toBe(0);
    // Mosquitto started as root drops to its own user, which must be able to read the owner-only files.
    for (const p of [dir, out]) chmodSync(p, 0o755);
    for (const f of ['passwd', 'server-key.pem']) chmodSync(path.join(out, f), 0o644);
    mosquitto = spawn(mosquittoBin!, ['-c', path.join(out, 'mosquitto.conf')], { stdio: 'ignore' });
    await waitFor(
      () => new Promise<boolean>((resolve) => net.connect(tlsPort, '127.0.0.1').once('connect', function (this: net.Socket) { this.destroy(); resolve(true); }).once('error', () => resolve(false))),
      10_000,
      'mosquitto listening with TLS',
      20,
    );
    brokerUrl = `mqtts://127.0.0.1:${tlsPort}`;
    // the controller's own link presents a client certificate of its CA, as every device must
    controller = await startController({ dataDir, brokerUrl, mqttPort: 0, httpPort: 0, host: '127.0.0.1', log: logs.log, tls: {} });
  });

  afterAll(async () => {
    await controller?.close();
    mosquitto?.kill();
    rmSync(dir, { recursive: true, force: true });
  });

  it('an agent with --ca and its certificate comes online through Mosquitto, gets its model over https, and goes offline on SIGTERM; no certificate is refused', async () => {
    expect(controller.httpUrl).toMatch(/^https:/);
    const certArgs = await deviceFiles(path.join(dir, 'cert-mq'), dataDir, 'mq-tls');
    const agent = spawnCli(['agent', '--broker', brokerUrl, '--id', 'mq-tls', '--controller', controller.httpUrl, '--state', path.join(dir, 'state'), '--heartbeat', '1', '--keepalive', '2', '--health-window', '1', '--ca', path.join(dataDir, CA_FILE), ...certArgs], { EDGEFIT_TOKEN: token, EDGEFIT_LOG_LEVEL: 'info' });
    try {
      await waitFor(() => controller.registry.get('mq-tls')?.online, 20_000, 'mq-tls online through mosquitto');
      const model = await controller.artifacts.put(builtYolov8n(dir, IMGSZ), { name: `yolov8n-${IMGSZ}.onnx` });
      await deployAndSeeHealthy(controller, 'mq-tls', model, agent);
      await stop(agent);
      await waitFor(() => controller.registry.get('mq-tls')?.online === false, 10_000, 'mq-tls offline after SIGTERM');
    } finally {
      await stop(agent);
    }
    expect(await tryConnect(brokerUrl, 'mq-tls', token, { ca: readCa(path.join(dataDir, CA_FILE)) })).not.toBe('connected');
  });
});
