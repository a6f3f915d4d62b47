import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { join } from 'node:path';
import { rootCertificates } from 'node:tls';
import { setTimeout as sleep } from 'node:timers/promises';
import { readAdminToken } from '../controller/secrets.js';
import { ENDPOINT_FILE, readEndpoint, startingPid } from '../controller/endpoint.js';
import { CA_FILE } from '../controller/tls/files.js';
import { UsageError } from './args.js';
import { EdgefitError } from '../protocol/errors.js';

export const DEFAULT_CONTROLLER = 'http://127.0.0.1:8080';
export const DEFAULT_DATA_DIR = './.edgefit';

/**
 * How long a command waits for a controller that is starting on its data dir
 * (controller.starting names a live process) to write controller.url. A start
 * on a 2-core machine took about 4 s before the HTTP listener was up (the issue's
 * `devices add` case); making the CA and the server certificate adds well under one.
 */
export const STARTING_WAIT_MS = 10_000;

/** OpenSSL's verdicts on a server certificate, as Node names them: the line then says which CA to give. */
const UNTRUSTED = /^(SELF_SIGNED_CERT_IN_CHAIN|DEPTH_ZERO_SELF_SIGNED_CERT|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY|CERT_SIGNATURE_FAILURE|CERT_HAS_EXPIRED|ERR_TLS_CERT_ALTNAME_INVALID)$/;

/** The CLI's side of the HTTP API: admin token from the data dir, errors as plain sentences. */
export class ApiClient {
  constructor(
    private readonly baseUrl: string,
    private readonly token: string,
    /** Where the URL came from when the user did not give it, for the error when it does not answer. */
    private readonly found?: string,
    /** The data dir, when the URL is to be read from it: a controller starting there is waited for. */
    private readonly dataDir?: string,
  ) {}

  static fromFlags(command: string, controller: string | undefined, dataDir: string | undefined): ApiClient {
    if (controller !== undefined && !/^https?:\/\/[^/]/.test(controller)) throw new UsageError(`${command}: --controller must be a URL like http://host:8080, got '${controller}'`);
    // every request adds /api/...: a URL that already ends in it would ask for /api/api/...
    if (controller !== undefined && /\/api\/*$/.test(controller)) throw new UsageError(`${command}: --controller is the controller's base URL, without /api (got '${controller}')`);
    const token = readAdminToken(dataDir ?? DEFAULT_DATA_DIR);
    if (!token) {
      throw new UsageError(`${command}: no admin token: run it where the controller's data dir is (--data DIR) or set EDGEFIT_ADMIN_TOKEN`);
    }
    const dir = dataDir ?? DEFAULT_DATA_DIR;
    if (controller !== undefined) return new ApiClient(controller.replace(/\/+$/, ''), token, undefined, dir);
    // a controller started on that data dir says where it listens (read at the first request, so that one still starting is waited for)
    return new ApiClient('', token, undefined, dir);
  }

  private resolved?: Promise<{ url: string; found?: string }>;

  /** The controller's URL: as given, or from the data dir once a controller starting there has written it (found once per client). */
  private base(): Promise<{ url: string; found?: string }> {
    this.resolved ??= this.findBase();
    return this.resolved;
  }

  private async findBase(): Promise<{ url: string; found?: string }> {
    if (this.baseUrl) return { url: this.baseUrl, ...(this.found ? { found: this.found } : {}) };
    const dir = this.dataDir ?? DEFAULT_DATA_DIR;
    const deadline = Date.now() + STARTING_WAIT_MS;
    let starting = startingPid(dir);
    while (starting !== undefined && Date.now() < deadline) {
      await sleep(100);
      starting = startingPid(dir);
    }
    const url = readEndpoint(dir);
    if (!url) return { url: DEFAULT_CONTROLLER, found: starting !== undefined ? `the default: the controller starting on ${dir} (pid ${starting}) wrote no URL within ${STARTING_WAIT_MS / 1000} s` : 'the default; give --controller URL if it runs elsewhere' };
    return { url: url.replace(/\/+$/, ''), found: `from ${join(dir, ENDPOINT_FILE)}, which a controller that did not shut down cleanly leaves behind` };
  }

  /**
   * An https controller is checked against the public roots, the data dir's
   * ca.pem (the CA `controller --tls` made) and EDGEFIT_CA.
   */
  private trustedCas(): string[] {
    const files = [join(this.dataDir ?? DEFAULT_DATA_DIR, CA_FILE), process.env.EDGEFIT_CA].filter((f): f is string => !!f && existsSync(f));
    return [...rootCertificates, ...files.map((f) => readFileSync(f, 'utf8'))];
  }

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const { url: baseUrl, found } = await this.base();
    let response: { status: number; statusText: string; text: string };
    try {
      // Bytes (model files) go as they are; anything else as JSON.
      const payload = body === undefined ? undefined : body instanceof Uint8Array ? Buffer.from(body.buffer, body.byteOffset, body.byteLength) : Buffer.from(JSON.stringify(body));
      const headers = { authorization: `Bearer ${this.token}`, ...(payload === undefined ? {} : { 'content-type': body instanceof Uint8Array ? 'application/octet-stream' : 'application/json', 'content-length': String(payload.length) }) };
      response = await send(new URL(`${baseUrl}${path}`), method, headers, payload, baseUrl.startsWith('https:') ? this.trustedCas() : undefined);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? '';
      if (UNTRUSTED.test(code)) {
        throw new EdgefitError('E_CONTROLLER_UNREACHABLE', { reason: `the controller at ${baseUrl} presents a certificate this CLI does not trust (${code}): it trusts the public roots, ${join(this.dataDir ?? DEFAULT_DATA_DIR, CA_FILE)} and EDGEFIT_CA; set EDGEFIT_CA to the controller's ca.pem` });
      }
      throw new EdgefitError('E_CONTROLLER_UNREACHABLE', { reason: `cannot reach the controller at ${baseUrl}${found ? ` (${found})` : ''}: ${(err as Error).message}` });
    }
    let json: unknown;
    try {
      json = response.text ? JSON.parse(response.text) : undefined;
    } catch {
      // some other server on that port (or a proxy's error page)
      throw new EdgefitError('E_CONTROLLER_UNREACHABLE', { reason: `${method} ${path}: ${baseUrl} answered ${response.status} ${response.statusText} with something that is not JSON: is it an edgefit controller?` });
    }
    if (response.status < 200 || response.status > 299) {
      const body = json as { error?: unknown; message?: unknown } | undefined;
      const message = typeof body?.message === 'string' ? body.message : response.statusText;
      // the controller's own code rides along (details.remote) for a script that reads it
      throw new EdgefitError('E_API_ANSWER', { method, path, status: response.status, message, remote: typeof body?.error === 'string' ? body.error : null });
    }
    return json as T;
  }
}

/** One request with node:http(s) (global fetch takes no CA on Node 20). */
function send(url: URL, method: string, headers: Record<string, string>, payload: Buffer | undefined, ca: string[] | undefined): Promise<{ status: number; statusText: string; text: string }> {
  return new Promise((resolve, reject) => {
    const done = (res: http.IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => resolve({ status: res.statusCode ?? 0, statusText: res.statusMessage ?? '', text: Buffer.concat(chunks).toString('utf8') }));
    };
    const req = url.protocol === 'https:' ? https.request(url, { method, headers, ca }, done) : http.request(url, { method, headers }, done);
    req.on('error', reject);
    req.end(payload);
  });
}
