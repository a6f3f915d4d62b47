// Whom an agent trusts over TLS (agent/tls/trust.ts): pinning the CA on first
// use, keeping it across a renewed server certificate, refusing another CA,
// and the operator's --ca; against real TLS servers on loopback.
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:tls';
import { afterAll, describe, expect, it } from 'vitest';
import { PINNED_CA_FILE, ServerTrustError, resolveServerTrust, tlsEndpoints, type TlsEndpoint } from '../../agent/tls/trust.js';
import { createCa, issueCertificate, type Pem } from '../../controller/tls/x509.js';
import { captureLogger } from '../helpers/log.js';
import { freePort } from '../helpers/free-port.js';

const dirs: string[] = [];
const servers: Server[] = [];
afterAll(() => {
  dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
  servers.forEach((s) => s.close());
});
const tmp = () => {
  const d = mkdtempSync(path.join(os.tmpdir(), 'edgefit-trust-'));
  dirs.push(d);
  return d;
};

const fp = (pem: string | undefined) => new X509Certificate(pem!).fingerprint256;

async function leafOf(ca: Pem): Promise<Pem> {
  return issueCertificate(ca, { commonName: 'localhost', usage: 'server', sans: ['localhost', '127.0.0.1'], days: 30 });
}

/** A TLS server on loopback presenting `cert` (with the chain in it or not). */
async function serve(cert: string, key: string, port = 0): Promise<{ server: Server; endpoint: TlsEndpoint }> {
  const server = createServer({ cert, key }, (s) => s.end());
  servers.push(server);
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
  const url = `mqtts://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { server, endpoint: tlsEndpoints([{ role: 'the broker', url }])[0] };
}

describe('agent TLS trust', () => {
  it('picks the TLS URLs and their default ports', () => {
    expect(tlsEndpoints([{ role: 'b', url: 'mqtt://h:1883' }, { role: 'c', url: 'http://h:8080' }, { role: 'd', url: undefined }])).toEqual([]);
    expect(tlsEndpoints([{ role: 'b', url: 'mqtts://broker.example' }, { role: 'c', url: 'https://[::1]:8443' }])).toEqual([
      { role: 'b', url: 'mqtts://broker.example', host: 'broker.example', port: 8883 },
      { role: 'c', url: 'https://[::1]:8443', host: '::1', port: 8443 },
    ]);
  });

  it('pins the CA a server first presents, keeps trusting it across a renewed certificate, and refuses another CA in one line', async () => {
    const state = tmp();
    const log = captureLogger();
    const ca = await createCa({ commonName: 'fleet CA', days: 30 });
    const leaf = await leafOf(ca);
    const first = await serve(leaf.certPem + ca.certPem, leaf.keyPem);
    const trust = await resolveServerTrust({ stateDir: state, endpoints: [first.endpoint], log: log.log });
    expect(fp(trust.ca)).toBe(fp(ca.certPem));
    expect(readFileSync(path.join(state, PINNED_CA_FILE), 'utf8')).toBe(trust.ca);
    expect(log.lines().find((l) => l.msg === 'pinned the server CA on first use')).toBeTruthy();

    // the controller renewed its server certificate: same CA, still trusted, pin untouched
    const renewed = await leafOf(ca);
    const second = await serve(renewed.certPem + ca.certPem, renewed.keyPem);
    expect((await resolveServerTrust({ stateDir: state, endpoints: [second.endpoint], log: log.log })).ca).toBe(trust.ca);

    // someone else's CA on that address: refused, the pin named
    const rogueCa = await createCa({ commonName: 'rogue', days: 30 });
    const rogueLeaf = await leafOf(rogueCa);
    const rogue = await serve(rogueLeaf.certPem + rogueCa.certPem, rogueLeaf.keyPem);
    const refusal = resolveServerTrust({ stateDir: state, endpoints: [rogue.endpoint], log: log.log });
    await expect(refusal).rejects.toThrow(ServerTrustError);
    await expect(refusal).rejects.toThrow(new RegExp(`^the broker at ${rogue.endpoint.url.replace(/\./g, '\\.')} is not vouched for by the CA pinned in .*${PINNED_CA_FILE} \\(SELF_SIGNED_CERT_IN_CHAIN\\): it presents CA [0-9A-F:]{95}, trusted [0-9A-F:]{95}\\. Refusing to connect\\. If its certificates were replaced on purpose, delete .*${PINNED_CA_FILE} \\(or give the new CA with --ca FILE\\) and restart the agent\\.$`));
    expect(((await refusal.catch((e: unknown) => e)) as Error).message).not.toContain('\n');
  });

  it("trusts the operator's --ca only, pinning nothing, and says so when a server presents another", async () => {
    const state = tmp();
    const log = captureLogger();
    const ca = await createCa({ commonName: 'fleet CA', days: 30 });
    const leaf = await leafOf(ca);
    const { endpoint } = await serve(leaf.certPem + ca.certPem, leaf.keyPem);
    expect((await resolveServerTrust({ stateDir: state, endpoints: [endpoint], explicitCa: { pem: ca.certPem, file: '/etc/edgefit/ca.pem' }, log: log.log })).ca).toBe(ca.certPem);
    expect(existsSync(path.join(state, PINNED_CA_FILE))).toBe(false);
    const wrong = await createCa({ commonName: 'wrong', days: 30 });
    await expect(resolveServerTrust({ stateDir: state, endpoints: [endpoint], explicitCa: { pem: wrong.certPem, file: '/etc/edgefit/wrong.pem' }, log: log.log })).rejects.toThrow(
      /^the broker at mqtts:\/\/127\.0\.0\.1:\d+ is not vouched for by --ca \/etc\/edgefit\/wrong\.pem \(SELF_SIGNED_CERT_IN_CHAIN\): .* give the right CA with --ca FILE and restart the agent\.$/,
    );
  });

  it("refuses a server of the trusted CA whose certificate does not name the URL's host, naming the fix", async () => {
    const ca = await createCa({ commonName: 'fleet CA', days: 30 });
    const leaf = await issueCertificate(ca, { commonName: 'ctl', usage: 'server', sans: ['ctl.example'], days: 30 });
    const { endpoint } = await serve(leaf.certPem + ca.certPem, leaf.keyPem);
    await expect(resolveServerTrust({ stateDir: tmp(), endpoints: [endpoint], explicitCa: { pem: ca.certPem, file: 'ca.pem' }, log: captureLogger().log })).rejects.toThrow(
      /^the broker at mqtts:\/\/127\.0\.0\.1:\d+ presents a certificate that does not name 127\.0\.0\.1: connect by a name it carries, or add this one to the controller's certificate \(controller --tls-san 127\.0\.0\.1\)$/,
    );
  });

  it('pins nothing from a server that sends no CA, and says what to do', async () => {
    const ca = await createCa({ commonName: 'fleet CA', days: 30 });
    const leaf = await leafOf(ca);
    const { endpoint } = await serve(leaf.certPem, leaf.keyPem);
    const state = tmp();
    await expect(resolveServerTrust({ stateDir: state, endpoints: [endpoint], log: captureLogger().log })).rejects.toThrow(/did not send its CA certificate, so there is nothing to pin \(UNABLE_TO_VERIFY_LEAF_SIGNATURE\): give the CA with --ca FILE$/);
    expect(existsSync(path.join(state, PINNED_CA_FILE))).toBe(false);
  });

  it('waits for a server that is not up yet when nothing is pinned, and goes on without checking one that is down when a CA is known', async () => {
    const ca = await createCa({ commonName: 'fleet CA', days: 30 });
    const leaf = await leafOf(ca);
    const port = await freePort();
    const endpoint = tlsEndpoints([{ role: 'the broker', url: `mqtts://127.0.0.1:${port}` }])[0];
    const log = captureLogger();
    const state = tmp();
    const pinning = resolveServerTrust({ stateDir: state, endpoints: [endpoint], log: log.log, retryMs: 50 });
    await new Promise((r) => setTimeout(r, 300));
    expect(log.lines().filter((l) => l.msg === 'cannot reach the server to pin its CA yet').length).toBeGreaterThan(0);
    const { server } = await serve(leaf.certPem + ca.certPem, leaf.keyPem, port);
    expect(fp((await pinning).ca)).toBe(fp(ca.certPem));
    await new Promise((r) => server.close(r));
    // down now, CA pinned: the connection itself will verify
    expect(fp((await resolveServerTrust({ stateDir: state, endpoints: [endpoint], log: log.log })).ca)).toBe(fp(ca.certPem));
    expect(log.lines().find((l) => l.msg === 'server not reachable now: its certificate is checked on connection')).toBeTruthy();
  });
});
