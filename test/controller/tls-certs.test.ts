// The controller's CA and server certificate (controller/tls/store.ts): names,
// validity, file modes, reuse on restart and the two renewals, checked with
// Node's own X509 parser and a real TLS handshake.
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { connect, createServer } from 'node:tls';
import { afterAll, describe, expect, it } from 'vitest';
import { CA_DAYS, CA_FILE, RENEW_BEFORE_DAYS, SERVER_DAYS, TLS_DIR, TlsConfigError, controllerSans, issueDeviceCertificate, loadOrCreateServerTls, renewalReason, userServerTls } from '../../controller/tls/store.js';
import { certificateSans, createCa, issueCertificate } from '../../controller/tls/x509.js';

const DAY = 86_400_000;
const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(path.join(os.tmpdir(), 'edgefit-tls-'));
  dirs.push(d);
  return d;
};
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const firstCert = (pem: string) => new X509Certificate(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(pem)![0]);

/** A handshake against `ca` for `servername`: resolves to the client's verdict. */
async function verdict(server: { certPem: string; keyPem: string }, ca: string, servername: string): Promise<string> {
  const srv = createServer({ cert: server.certPem, key: server.keyPem }, (s) => s.end());
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  try {
    return await new Promise<string>((resolve) => {
      const s = connect({ host: '127.0.0.1', port: (srv.address() as AddressInfo).port, ca, servername, rejectUnauthorized: false }, () => {
        resolve(s.authorized ? 'ok' : String((s.authorizationError as Error & { code?: string })?.code ?? s.authorizationError));
        s.destroy();
      });
      s.on('error', (e) => resolve(e.message));
    });
  } finally {
    srv.close();
  }
}

describe("the controller's certificates", () => {
  it('names localhost, loopback, the hostname, the listen address, this machine\'s addresses and --tls-san values, once each', () => {
    const interfaces = {
      lo: [{ address: '127.0.0.1', family: 'IPv4', internal: true }],
      eth0: [
        { address: '192.168.7.20', family: 'IPv4', internal: false },
        { address: 'fe80::1', family: 'IPv6', internal: false },
        { address: '2001:DB8::5', family: 'IPv6', internal: false },
      ],
    } as unknown as ReturnType<typeof os.networkInterfaces>;
    const sans = controllerSans('10.0.0.9', ['Ctl.Example', '127.0.0.1'], 'edge-box', interfaces);
    expect(sans.sort()).toEqual(['10.0.0.9', '127.0.0.1', '192.168.7.20', '2001:db8::5', '::1', 'ctl.example', 'edge-box', 'localhost'].sort());
    // a wildcard listen address is no name
    expect(controllerSans('0.0.0.0', [], 'h', {})).not.toContain('0.0.0.0');
  });

  it('makes a CA and a server certificate with those names and validities, keys owner-only, the chain carrying the CA', async () => {
    const dir = tmp();
    const now = new Date('2026-03-01T00:00:00Z');
    const tls = await loadOrCreateServerTls(dir, { sans: ['localhost', '127.0.0.1', '::1', 'edge-box'], now });
    expect(tls.changes).toEqual(['made a CA', 'issued the server certificate (none yet)']);
    const ca = new X509Certificate(readFileSync(path.join(dir, CA_FILE), 'utf8'));
    const leaf = firstCert(tls.certPem);
    expect(ca.ca).toBe(true);
    expect(leaf.ca).toBe(false);
    expect(leaf.checkIssued(ca) && leaf.verify(ca.publicKey)).toBe(true);
    expect(certificateSans(tls.certPem).sort()).toEqual(['127.0.0.1', '::1', 'edge-box', 'localhost']);
    expect(Date.parse(leaf.validTo) - now.getTime()).toBeCloseTo(SERVER_DAYS * DAY, -6);
    expect(Date.parse(ca.validTo) - now.getTime()).toBeCloseTo(CA_DAYS * DAY, -6);
    // backdated by minutes for slow device clocks, never by days
    expect(now.getTime() - Date.parse(leaf.validFrom)).toBeLessThanOrEqual(15 * 60_000);
    expect(tls.certPem.match(/BEGIN CERTIFICATE/g)).toHaveLength(2);
    for (const key of ['ca-key.pem', 'server-key.pem']) expect(statSync(path.join(dir, TLS_DIR, key)).mode & 0o777, key).toBe(0o600);
    // a real handshake: verified against ca.pem by each name, refused by one it does not carry
    const real = await loadOrCreateServerTls(dir, { sans: ['localhost', '127.0.0.1', '::1', 'edge-box'], now });
    expect(await verdict(real, tls.caPem, 'localhost')).toBe('ok');
    expect(await verdict(real, tls.caPem, 'edge-box')).toBe('ok');
    expect(await verdict(real, tls.caPem, 'other.example')).toBe('ERR_TLS_CERT_ALTNAME_INVALID');
  });

  it('is reused on restart, renewed under the same CA when near expiry or when a name is new, and a new CA only when the CA runs out', async () => {
    const dir = tmp();
    const t0 = new Date('2026-03-01T00:00:00Z');
    const sans = ['localhost', '127.0.0.1'];
    const first = await loadOrCreateServerTls(dir, { sans, now: t0 });
    const again = await loadOrCreateServerTls(dir, { sans, now: new Date(t0.getTime() + 30 * DAY) });
    expect(again.changes).toEqual([]);
    expect(again.fingerprint).toBe(first.fingerprint);

    // RENEW_BEFORE_DAYS before expiry, minus a day: still valid, renewed
    const late = new Date(t0.getTime() + (SERVER_DAYS - RENEW_BEFORE_DAYS + 1) * DAY);
    expect(renewalReason(first.certPem, first.caPem, sans, late)).toMatch(/^expires in \d+ days$/);
    const renewed = await loadOrCreateServerTls(dir, { sans, now: late });
    expect(renewed.changes).toEqual([expect.stringMatching(/^issued the server certificate \(expires in 2\d days\)$/)]);
    expect(renewed.fingerprint).not.toBe(first.fingerprint);
    expect(renewed.caFingerprint).toBe(first.caFingerprint);

    const named = await loadOrCreateServerTls(dir, { sans: [...sans, 'ctl.example'], now: late });
    expect(named.changes).toEqual(['issued the server certificate (new names: ctl.example)']);
    expect(certificateSans(named.certPem)).toContain('ctl.example');
    expect(named.caFingerprint).toBe(first.caFingerprint);
    // a name dropped is no reason to reissue
    expect((await loadOrCreateServerTls(dir, { sans: ['localhost'], now: late })).changes).toEqual([]);

    const caEnd = new Date(t0.getTime() + (CA_DAYS - 10) * DAY);
    const newCa = await loadOrCreateServerTls(dir, { sans, now: caEnd });
    expect(newCa.changes[0]).toMatch(/^made a new CA: the old one expires within 30 days; hand agents the new ca\.pem$/);
    expect(newCa.caFingerprint).not.toBe(first.caFingerprint);
    expect(firstCert(newCa.certPem).checkIssued(new X509Certificate(newCa.caPem))).toBe(true);
  });

  it('reissues a server certificate whose key was swapped, or that another CA signed', async () => {
    const dir = tmp();
    const sans = ['localhost'];
    const first = await loadOrCreateServerTls(dir, { sans });
    const other = await issueCertificate(await createCa({ commonName: 'other', days: 30 }), { commonName: 'x', usage: 'server', sans, days: 30 });
    writeFileSync(path.join(dir, TLS_DIR, 'server-key.pem'), other.keyPem);
    expect((await loadOrCreateServerTls(dir, { sans })).changes).toEqual(['issued the server certificate (its key does not match)']);
    writeFileSync(path.join(dir, TLS_DIR, 'server.pem'), other.certPem);
    writeFileSync(path.join(dir, TLS_DIR, 'server-key.pem'), other.keyPem);
    const back = await loadOrCreateServerTls(dir, { sans });
    expect(back.changes).toEqual(['issued the server certificate (not issued by the current CA)']);
    expect(back.caFingerprint).toBe(first.caFingerprint);
  });

  it("takes the operator's own files, and refuses a key that is not the certificate's in one line", async () => {
    const dir = tmp();
    const ca = await createCa({ commonName: 'site CA', days: 30 });
    const leaf = await issueCertificate(ca, { commonName: 'ctl', usage: 'server', sans: ['localhost'], days: 30 });
    const other = await issueCertificate(ca, { commonName: 'ctl', usage: 'server', sans: ['localhost'], days: 30 });
    const f = (name: string, text: string) => {
      writeFileSync(path.join(dir, name), text);
      return path.join(dir, name);
    };
    const own = userServerTls({ cert: f('c.pem', leaf.certPem), key: f('k.pem', leaf.keyPem), ca: f('ca.pem', ca.certPem) });
    expect(own.caPem).toBe(ca.certPem);
    expect(own.caKeyPem).toBeUndefined();
    expect(() => userServerTls({ cert: f('c.pem', leaf.certPem), key: f('k2.pem', other.keyPem) })).toThrow(new TlsConfigError(`--tls-key ${path.join(dir, 'k2.pem')} is not the key of --tls-cert ${path.join(dir, 'c.pem')}`));
    expect(() => userServerTls({ cert: f('junk.pem', 'hello'), key: f('k.pem', leaf.keyPem) })).toThrow(/^--tls-cert .*junk\.pem: not a PEM certificate/);
    expect(() => userServerTls({ cert: path.join(dir, 'missing.pem'), key: f('k.pem', leaf.keyPem) })).toThrow(/^cannot read --tls-cert .*missing\.pem: ENOENT$/);
  });

  it('issues device client certificates from its CA (CN = the device id, clientAuth only), and none without a CA key', async () => {
    const dir = tmp();
    const tls = await loadOrCreateServerTls(dir, { sans: ['localhost'] });
    const device = await issueDeviceCertificate(dir, 'jetson-7');
    const cert = new X509Certificate(device.certPem);
    expect(cert.subject).toBe('CN=jetson-7');
    expect(cert.keyUsage).toEqual(['1.3.6.1.5.5.7.3.2']);
    expect(cert.checkIssued(new X509Certificate(tls.caPem)) && cert.verify(new X509Certificate(tls.caPem).publicKey)).toBe(true);
    await expect(issueDeviceCertificate(tmp(), 'x')).rejects.toThrow(TlsConfigError);
  });
});
