// Certificates made in pure JS (@peculiar/x509 over Node's WebCrypto), so TLS
// needs no openssl binary on the controller's host: a private CA, server
// certificates for the controller's names and client certificates for devices.
// ECDSA P-256 keys: every TLS stack the agents run (Node, Mosquitto/OpenSSL) takes them.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { X509Certificate, randomBytes, webcrypto } from 'node:crypto';
import { isIP } from 'node:net';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

const KEY_ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGNING = { name: 'ECDSA', hash: 'SHA-256' } as const;
const DAY_MS = 86_400_000;

export interface Pem {
  certPem: string;
  keyPem: string;
}

export type CertUsage = 'server' | 'client';

async function newKeys(): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(KEY_ALGORITHM, true, ['sign', 'verify'])) as unknown as CryptoKeyPair;
}

async function keyPem(key: CryptoKey): Promise<string> {
  const der = await webcrypto.subtle.exportKey('pkcs8', key as unknown as webcrypto.CryptoKey);
  return x509.PemConverter.encode(der, 'PRIVATE KEY');
}

async function importSigningKey(pem: string): Promise<CryptoKey> {
  const der = x509.PemConverter.decode(pem)[0];
  return (await webcrypto.subtle.importKey('pkcs8', der, KEY_ALGORITHM, false, ['sign'])) as unknown as CryptoKey;
}

/** A positive 16-byte serial (RFC 5280: at most 20 bytes, non-negative). */
function serial(): string {
  const bytes = randomBytes(16);
  bytes[0] &= 0x7f;
  return bytes.toString('hex');
}

/** Backdated a little: a device whose clock runs a few minutes slow must not see a certificate from the future. */
function validity(now: Date, days: number): { notBefore: Date; notAfter: Date } {
  return { notBefore: new Date(now.getTime() - 10 * 60_000), notAfter: new Date(now.getTime() + days * DAY_MS) };
}

export async function createCa(opts: { commonName: string; days: number; now?: Date }): Promise<Pem> {
  const keys = await newKeys();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=${opts.commonName}`,
    ...validity(opts.now ?? new Date(), opts.days),
    signingAlgorithm: SIGNING,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certPem: cert.toString('pem') + '\n', keyPem: await keyPem(keys.privateKey) };
}

/** Subject alternative names as x509 wants them: IP literals as IP, anything else as DNS. */
function sanEntries(names: string[]): Array<{ type: 'ip' | 'dns'; value: string }> {
  return names.map((n) => ({ type: isIP(n) ? ('ip' as const) : ('dns' as const), value: n }));
}

/** A leaf certificate signed by the CA: `server` for the controller and brokers, `client` for a device (CN = its id). */
export async function issueCertificate(ca: Pem, opts: { commonName: string; usage: CertUsage; sans?: string[]; days: number; now?: Date }): Promise<Pem> {
  const keys = await newKeys();
  const caCert = new x509.X509Certificate(ca.certPem);
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyAgreement, true),
    new x509.ExtendedKeyUsageExtension([opts.usage === 'server' ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth]),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    await x509.AuthorityKeyIdentifierExtension.create(caCert.publicKey),
  ];
  if (opts.sans?.length) extensions.push(new x509.SubjectAlternativeNameExtension(sanEntries(opts.sans)));
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: `CN=${opts.commonName}`,
    issuer: caCert.subjectName,
    ...validity(opts.now ?? new Date(), opts.days),
    signingAlgorithm: SIGNING,
    publicKey: keys.publicKey,
    signingKey: await importSigningKey(ca.keyPem),
    extensions,
  });
  return { certPem: cert.toString('pem') + '\n', keyPem: await keyPem(keys.privateKey) };
}

/** The names a certificate answers to, as Node reads its subjectAltName ('DNS:a, IP Address:1.2.3.4'). */
export function certificateSans(certPem: string): string[] {
  const text = new X509Certificate(certPem).subjectAltName ?? '';
  return text
    .split(/,\s*/)
    .map((entry) => entry.replace(/^(DNS|IP Address):/, '').trim())
    .filter((v) => v.length > 0)
    .map(normalizeName);
}

/** One spelling per name: DNS names are case-blind, IPv6 literals come back from Node uppercase and unabbreviated. */
export function normalizeName(name: string): string {
  if (isIP(name) === 6) return new URL(`http://[${name}]/`).hostname.slice(1, -1);
  return name.toLowerCase();
}

/** sha256 of the certificate's DER, hex with colons (as `openssl x509 -fingerprint -sha256` prints it). */
export function certificateFingerprint(certPem: string): string {
  return new X509Certificate(certPem).fingerprint256;
}
