// The controller's TLS material in its data folder: made on first start
// (a private CA and a server certificate for the controller's names), reused
// on restart, the server certificate renewed when near expiry or when a name
// it must answer to is missing; or the operator's own files, checked.
//
//   <data>/ca.pem                 the CA certificate: hand it to agents (--ca)
//   <data>/tls/ca-key.pem         the CA's key (0600): signs server and device certificates
//   <data>/tls/server.pem         server certificate + the CA (the chain agents pin on first use)
//   <data>/tls/server-key.pem     its key (0600)
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { CA_FILE, TLS_DIR } from './files.js';
import { certificateFingerprint, certificateSans, createCa, issueCertificate, normalizeName, type Pem } from './x509.js';
import { codedError } from '../../protocol/errors.js';

export { CA_FILE, TLS_DIR };
const CA_KEY_FILE = 'ca-key.pem';
const SERVER_FILE = 'server.pem';
const SERVER_KEY_FILE = 'server-key.pem';

/** A private CA outlives many server certificates: replacing it means handing every agent a new ca.pem. */
export const CA_DAYS = 3650;
export const SERVER_DAYS = 365;
/** A server certificate with less than this left is renewed at start (a controller restarted monthly never serves an expired one). */
export const RENEW_BEFORE_DAYS = 30;
const DAY_MS = 86_400_000;

export interface ServerTls {
  /** The CA that signed the server certificate: what agents verify against, and what client certificates must chain to. */
  caPem: string;
  /** The server certificate followed by its CA, so a client pinning on first use receives the CA. */
  certPem: string;
  keyPem: string;
  /** The CA's key when the controller made the CA (it can then issue device certificates). */
  caKeyPem?: string;
  /** sha256 fingerprints, for logs. */
  fingerprint: string;
  caFingerprint: string;
  /** What happened at load: 'made a CA', 'issued the server certificate (why)', or nothing. */
  changes: string[];
}

/** An operator-given file that cannot be used: one line, said at start. */
export class TlsConfigError extends codedError('E_TLS_CONFIG') {
  override name = 'TlsConfigError';
}

/**
 * The names the server certificate must carry: localhost and loopback, the
 * machine's hostname, the address it listens on when that is a specific one,
 * this machine's non-loopback addresses (agents on the site network often
 * connect by IP) and the operator's --tls-san values.
 */
export function controllerSans(host: string, extra: string[], hostname = os.hostname(), interfaces = os.networkInterfaces()): string[] {
  const names = ['localhost', '127.0.0.1', '::1', hostname, ...extra];
  if (host !== '0.0.0.0' && host !== '::') names.push(host);
  for (const list of Object.values(interfaces)) {
    for (const a of list ?? []) {
      // link-local IPv6 needs a zone index a URL cannot carry: no agent reaches the controller by it
      if (!a.internal && !(a.family === 'IPv6' && a.address.toLowerCase().startsWith('fe80:'))) names.push(a.address);
    }
  }
  return [...new Set(names.filter((n) => n.length > 0).map(normalizeName))];
}

/** Why a server certificate must be issued again, or undefined when it can stay. */
export function renewalReason(certPem: string, caPem: string, sans: string[], now: Date): string | undefined {
  const cert = new X509Certificate(certPem);
  if (!cert.checkIssued(new X509Certificate(caPem))) return 'not issued by the current CA';
  const left = Date.parse(cert.validTo) - now.getTime();
  if (left < RENEW_BEFORE_DAYS * DAY_MS) return left <= 0 ? 'expired' : `expires in ${Math.floor(left / DAY_MS)} days`;
  const present = new Set(certificateSans(certPem));
  const missing = sans.map(normalizeName).filter((n) => !present.has(n));
  if (missing.length > 0) return `new names: ${missing.join(', ')}`;
  return undefined;
}

function readIfThere(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** Whole or not at all; keys owner-only. */
function writeAtomically(file: string, text: string, mode: number): void {
  writeFileSync(`${file}.tmp`, text, { mode });
  renameSync(`${file}.tmp`, file);
}

/** The first certificate of a PEM bundle. */
function firstCert(pem: string): string {
  const m = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(pem);
  if (!m) throw new Error('no certificate in it');
  return m[0] + '\n';
}

/** The CA's key (made by this controller), when there is one. */
export function readCaKey(dataDir: string): Pem | undefined {
  const keyPem = readIfThere(path.join(dataDir, TLS_DIR, CA_KEY_FILE));
  const certPem = readIfThere(path.join(dataDir, CA_FILE));
  return keyPem && certPem ? { certPem, keyPem } : undefined;
}

/** The controller's own CA and server certificate: made on first use, renewed at start when needed. */
export async function loadOrCreateServerTls(dataDir: string, opts: { sans: string[]; now?: Date }): Promise<ServerTls> {
  const now = opts.now ?? new Date();
  const dir = path.join(dataDir, TLS_DIR);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const changes: string[] = [];

  let ca = readCaKey(dataDir);
  if (ca) {
    const left = Date.parse(new X509Certificate(ca.certPem).validTo) - now.getTime();
    if (left < RENEW_BEFORE_DAYS * DAY_MS) ca = undefined;
    if (!ca) changes.push(`made a new CA: the old one ${left <= 0 ? 'expired' : 'expires within 30 days'}; hand agents the new ${CA_FILE}`);
  } else {
    changes.push('made a CA');
  }
  if (!ca) {
    ca = await createCa({ commonName: `edgefit controller CA (${os.hostname()})`, days: CA_DAYS, now });
    writeAtomically(path.join(dir, CA_KEY_FILE), ca.keyPem, 0o600);
    writeAtomically(path.join(dataDir, CA_FILE), ca.certPem, 0o644);
  }

  let certPem = readIfThere(path.join(dir, SERVER_FILE));
  let keyPem = readIfThere(path.join(dir, SERVER_KEY_FILE));
  let why = !certPem || !keyPem ? 'none yet' : renewalReason(firstCert(certPem), ca.certPem, opts.sans, now);
  if (!why && !new X509Certificate(firstCert(certPem!)).checkPrivateKey(createPrivateKey(keyPem!))) why = 'its key does not match';
  if (why) {
    const leaf = await issueCertificate(ca, { commonName: opts.sans.find((n) => !isIP(n) && n !== 'localhost') ?? 'localhost', usage: 'server', sans: opts.sans, days: SERVER_DAYS, now });
    certPem = leaf.certPem + ca.certPem;
    keyPem = leaf.keyPem;
    writeAtomically(path.join(dir, SERVER_KEY_FILE), keyPem, 0o600);
    writeAtomically(path.join(dir, SERVER_FILE), certPem, 0o644);
    changes.push(`issued the server certificate (${why})`);
  }
  return { caPem: ca.certPem, certPem: certPem!, keyPem: keyPem!, caKeyPem: ca.keyPem, fingerprint: certificateFingerprint(certPem!), caFingerprint: certificateFingerprint(ca.certPem), changes };
}

/**
 * The operator's own certificate and key (--tls-cert, --tls-key) and the CA
 * that client certificates must chain to (--tls-ca). Checked now: a key that
 * does not match, or a file that is not PEM, is one line at start rather than
 * a handshake failure on every device.
 */
export function userServerTls(files: { cert: string; key: string; ca?: string }): ServerTls {
  const read = (flag: string, file: string) => {
    try {
      return readFileSync(file, 'utf8');
    } catch (err) {
      throw new TlsConfigError(`cannot read ${flag} ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  };
  const certPem = read('--tls-cert', files.cert);
  const keyPem = read('--tls-key', files.key);
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(firstCert(certPem));
  } catch (err) {
    throw new TlsConfigError(`--tls-cert ${files.cert}: not a PEM certificate (${(err as Error).message})`);
  }
  let key;
  try {
    key = createPrivateKey(keyPem);
  } catch (err) {
    throw new TlsConfigError(`--tls-key ${files.key}: not a PEM private key (${(err as Error).message})`);
  }
  if (!leaf.checkPrivateKey(key)) throw new TlsConfigError(`--tls-key ${files.key} is not the key of --tls-cert ${files.cert}`);
  let caPem = certPem;
  if (files.ca !== undefined) {
    caPem = read('--tls-ca', files.ca);
    try {
      new X509Certificate(firstCert(caPem));
    } catch (err) {
      throw new TlsConfigError(`--tls-ca ${files.ca}: not a PEM certificate (${(err as Error).message})`);
    }
  }
  return { caPem, certPem, keyPem, fingerprint: leaf.fingerprint256, caFingerprint: certificateFingerprint(caPem), changes: [] };
}

/** A device's client certificate (CN = its id), signed by the controller's CA. */
export async function issueDeviceCertificate(dataDir: string, deviceId: string, now = new Date()): Promise<Pem & { caPem: string }> {
  const ca = readCaKey(dataDir);
  if (!ca) throw new TlsConfigError(`no CA key in ${path.join(dataDir, TLS_DIR)}: device certificates are issued by a controller that made its own CA ('controller --tls' on this data folder)`);
  const cert = await issueCertificate(ca, { commonName: deviceId, usage: 'client', days: SERVER_DAYS, now });
  return { ...cert, caPem: ca.certPem };
}
