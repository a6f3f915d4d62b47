// The TLS flags of controller, agent, devices add and broker-config on bad
// input: a mistake exits 2 with one line before anything starts; certificates
// that cannot be used end the start with one line (exit 1).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createCa, issueCertificate } from '../../controller/tls/x509.js';
import { expectFailure, expectUsage, runCliApart } from '../helpers/cli.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'edgefit-tls-flags-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const cli = (args: string[], env: Record<string, string> = {}) => runCliApart(args, { env, limitMs: 15_000 });

describe('TLS flags on bad input', () => {
  it('refuses each mistake in one line (exit 2), and ends a start on a key that is not its certificate\'s in one line (exit 1)', async () => {
    const data = path.join(dir, 'data');
    const agent = ['agent', '--id', 'a', '--token', 't'];
    const ca = await createCa({ commonName: 'site', days: 1 });
    const a = await issueCertificate(ca, { commonName: 'a', usage: 'server', sans: ['localhost'], days: 1 });
    const b = await issueCertificate(ca, { commonName: 'b', usage: 'server', sans: ['localhost'], days: 1 });
    writeFileSync(path.join(dir, 'a.pem'), a.certPem);
    writeFileSync(path.join(dir, 'b-key.pem'), b.keyPem);
    // all at once: each is a node start, seconds apiece on a busy 2-core machine
    const [badKey, ...usage] = await Promise.all([
      cli(['controller', '--data', path.join(dir, 'own'), '--host', '127.0.0.1', '--port', '0', '--mqtt-port', '0', '--plain-mqtt-port', '0', '--tls', '--tls-cert', path.join(dir, 'a.pem'), '--tls-key', path.join(dir, 'b-key.pem')], { EDGEFIT_LOG_LEVEL: 'silent' }),
      cli(['controller', '--data', data, '--tls-san', 'ctl.example']),
      cli(['controller', '--data', data, '--tls', '--tls-client-certs', '--broker', 'mqtts://127.0.0.1:8883']),
      cli([...agent, '--broker', 'mqtt://127.0.0.1:1883', '--ca', 'ca.pem']),
      cli([...agent, '--broker', 'mqtts://127.0.0.1:8883', '--ca', path.join(dir, 'missing.pem')]),
      cli(['broker-config', '--out', path.join(dir, 'mq'), '--data', data, '--client-certs']),
      cli(['devices', 'add', 'd1', '--data', data, '--cert-out', path.join(dir, 'd1')], { EDGEFIT_ADMIN_TOKEN: 'x'.repeat(32) }),
    ]);
    expect(badKey.killed).toBe(false);
    expectFailure(badKey, /^edgefit controller: --tls-key .*b-key\.pem is not the key of --tls-cert .*a\.pem\n$/);
    const expected = [
      /^edgefit controller: --tls-san needs --tls\n$/,
      /^edgefit controller: --tls-client-certs is the embedded broker's; with --broker the broker requires them \(broker-config --client-certs for Mosquitto\)\n$/,
      /^edgefit agent: --ca is for TLS, and neither --broker \(mqtt:\/\/127\.0\.0\.1:1883\) nor --controller is an mqtts:\/\/ or https:\/\/ URL\n$/,
      /^edgefit agent: cannot read --ca .*missing\.pem: ENOENT\n$/,
      /^edgefit broker-config: --client-certs needs --tls\n$/,
      /^edgefit devices add: --cert-out needs the CA key in .*tls, made by 'controller --tls' on that data folder/,
    ];
    usage.forEach((r, i) => expectUsage(r, expected[i]));
  });
});
