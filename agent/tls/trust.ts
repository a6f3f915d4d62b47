// Whom the agent believes it talks to over mqtts:// and https://. The CA the
// operator gives (--ca), or else the CA the servers first present, pinned in
// the state folder as the artifact key is (artifacts/key-pin.ts): later starts
// verify every handshake against it and refuse a server it does not vouch for.
// A server that the public roots already vouch for is trusted through them and
// nothing is pinned.
import { X509Certificate } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import { connect, type DetailedPeerCertificate } from 'node:tls';
import type { Logger } from 'pino';
import { codedError } from '../../protocol/errors.js';

export const PINNED_CA_FILE = 'server-ca.pem';

/** What mqtt.js and node:https take: the CA to verify the server against (none: the public roots) and the device's own certificate. */
export interface TlsClientOptions {
  ca?: string;
  cert?: string;
  key?: string;
}

/** A server this agent must not trust: said in one line, and the agent stops. */
export class ServerTrustError extends codedError('E_SERVER_UNTRUSTED') {
  override name = 'ServerTrustError';
}

export interface TlsEndpoint {
  /** 'the broker' or 'the controller', for the line a refusal prints. */
  role: string;
  url: string;
  host: string;
  port: number;
}

const DEFAULT_PORTS: Record<string, number> = { 'mqtts:': 8883, 'wss:': 443, 'https:': 443 };

/** The URLs among these that speak TLS. */
export function tlsEndpoints(urls: Array<{ role: string; url: string | undefined }>): TlsEndpoint[] {
  const out: TlsEndpoint[] = [];
  for (const { role, url } of urls) {
    if (url === undefined) continue;
    const u = new URL(url);
    const port = DEFAULT_PORTS[u.protocol];
    if (port === undefined) continue;
    out.push({ role, url, host: u.hostname.replace(/^\[(.*)\]$/, '$1'), port: u.port ? Number(u.port) : port });
  }
  return out;
}

export interface Handshake {
  /** The chain as verified against `ca` (or the public roots) and the URL's host name. */
  authorized: boolean;
  /** Why not (OpenSSL's code, e.g. SELF_SIGNED_CERT_IN_CHAIN, or ERR_TLS_CERT_ALTNAME_INVALID). */
  error?: string;
  /** The certificates the server sent, leaf first, as PEM. */
  chain: string[];
}

/** One TLS handshake with the server, verdict kept rather than thrown; rejects only when the server cannot be reached. */
export function handshake(endpoint: TlsEndpoint, opts: TlsClientOptions, timeoutMs = 5000): Promise<Handshake> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: endpoint.host, port: endpoint.port, ...(isIP(endpoint.host) ? {} : { servername: endpoint.host }), ...opts, rejectUnauthorized: false });
    const timer = setTimeout(() => socket.destroy(new Error(`no TLS handshake within ${timeoutMs} ms`)), timeoutMs);
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      const error = socket.authorizationError;
      const result: Handshake = { authorized: socket.authorized, ...(error ? { error: String((error as Error & { code?: string }).code ?? error) } : {}), chain: chainOf(socket.getPeerCertificate(true)) };
      // a clean close: the server sees a finished handshake, not a refused one
      socket.end();
      setTimeout(() => socket.destroy(), 1000).unref();
      resolve(result);
    });
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

function chainOf(peer: DetailedPeerCertificate): string[] {
  const chain: string[] = [];
  const seen = new Set<string>();
  for (let c: DetailedPeerCertificate | undefined = peer; c?.raw && !seen.has(c.fingerprint256); c = c.issuerCertificate) {
    seen.add(c.fingerprint256);
    chain.push(new X509Certificate(c.raw).toString());
  }
  return chain;
}

/** The self-signed CA at the top of a chain, or undefined when the server did not send one. */
export function rootOf(chain: string[]): string | undefined {
  const top = chain.at(-1);
  if (!top) return undefined;
  const cert = new X509Certificate(top);
  return cert.ca && cert.checkIssued(cert) ? top : undefined;
}

const fingerprint = (pem: string | undefined) => (pem ? new X509Certificate(pem).fingerprint256 : 'none');

function readPin(file: string): string | undefined {
  let pem: string;
  try {
    pem = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    new X509Certificate(pem);
  } catch (err) {
    throw new ServerTrustError(`pinned server CA ${file} is unusable (${(err as Error).message}): delete it to pin again`);
  }
  return pem;
}

function writePin(file: string, pem: string): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(`${file}.tmp`, pem, { mode: 0o644 });
  renameSync(`${file}.tmp`, file);
}

export interface TrustOptions {
  stateDir: string;
  endpoints: TlsEndpoint[];
  /** The operator's CA (--ca or EDGEFIT_CA): trusted as is, never learned from the network. */
  explicitCa?: { pem: string; file: string };
  /** The device's client certificate (--cert, --key), presented on every handshake. */
  client?: { cert: string; key: string };
  log: Logger;
  /** First wait before asking again a server not reachable yet while nothing is trusted; it doubles up to 30 s. */
  retryMs?: number;
}

/**
 * The TLS options for every connection this agent makes. With a CA known
 * (given or pinned) each server is checked once now, and one that CA does not
 * vouch for is a ServerTrustError; a server down now is left to the
 * connection's own verification. With nothing known, the agent waits for the
 * first server, pins the CA it presents, and checks the others against it.
 */
export async function resolveServerTrust(o: TrustOptions): Promise<TlsClientOptions> {
  const pinFile = path.join(o.stateDir, PINNED_CA_FILE);
  const client = o.client ? { cert: o.client.cert, key: o.client.key } : {};
  if (o.endpoints.length === 0) return client;
  let source = o.explicitCa ? `--ca ${o.explicitCa.file}` : `the CA pinned in ${pinFile}`;
  let ca: string | undefined = o.explicitCa?.pem ?? readPin(pinFile);
  let known = ca !== undefined;
  for (const endpoint of o.endpoints) {
    if (!known) {
      const first = await untilReachable(endpoint, client, o);
      known = true;
      if (first.authorized) {
        source = 'the public roots';
        o.log.info({ server: endpoint.url }, 'server certificate verified against the public roots: nothing pinned');
        continue;
      }
      ca = rootOf(first.chain);
      if (!ca) throw new ServerTrustError(`${endpoint.role} at ${endpoint.url} did not send its CA certificate, so there is nothing to pin (${first.error}): give the CA with --ca FILE`);
      writePin(pinFile, ca);
      source = `the CA pinned in ${pinFile}`;
      o.log.info({ server: endpoint.url, ca: fingerprint(ca), file: pinFile }, 'pinned the server CA on first use');
    }
    let check: Handshake;
    try {
      check = await handshake(endpoint, { ...client, ...(ca ? { ca } : {}) });
    } catch (err) {
      o.log.info({ server: endpoint.url, err: (err as Error).message }, 'server not reachable now: its certificate is checked on connection');
      continue;
    }
    if (check.error === 'ERR_TLS_CERT_ALTNAME_INVALID') {
      throw new ServerTrustError(`${endpoint.role} at ${endpoint.url} presents a certificate that does not name ${endpoint.host}: connect by a name it carries, or add this one to the controller's certificate (controller --tls-san ${endpoint.host})`);
    }
    if (!check.authorized) {
      const presented = fingerprint(rootOf(check.chain) ?? check.chain.at(-1));
      const redo = o.explicitCa ? 'give the right CA with --ca FILE' : `delete ${pinFile} (or give the new CA with --ca FILE)`;
      throw new ServerTrustError(
        `${endpoint.role} at ${endpoint.url} is not vouched for by ${source} (${check.error}): it presents CA ${presented}, trusted ${ca ? fingerprint(ca) : 'the public roots'}. ` +
          `Refusing to connect. If its certificates were replaced on purpose, ${redo} and restart the agent.`,
      );
    }
  }
  return { ...client, ...(ca ? { ca } : {}) };
}

async function untilReachable(endpoint: TlsEndpoint, client: TlsClientOptions, o: TrustOptions): Promise<Handshake> {
  let delayMs = o.retryMs ?? 1000;
  for (;;) {
    try {
      return await handshake(endpoint, client);
    } catch (err) {
      o.log.warn({ server: endpoint.url, err: (err as Error).message, retryInMs: delayMs }, 'cannot reach the server to pin its CA yet');
      await new Promise((r) => setTimeout(r, delayMs));
      delayMs = Math.min(delayMs * 2, 30_000);
    }
  }
}
