import { join } from 'node:path';
import { readAdminToken } from '../controller/secrets.js';
import { ENDPOINT_FILE, readEndpoint } from '../controller/endpoint.js';
import { UsageError } from './args.js';

export const DEFAULT_CONTROLLER = 'http://127.0.0.1:8080';
export const DEFAULT_DATA_DIR = './.edgefit';

/** The CLI's side of the HTTP API: admin token from the data dir, errors as plain sentences. */
export class ApiClient {
  constructor(
    private readonly baseUrl: string,
    private readonly token: string,
    /** Where the URL came from when the user did not give it, for the error when it does not answer. */
    private readonly found?: string,
  ) {}

  static fromFlags(command: string, controller: string | undefined, dataDir: string | undefined): ApiClient {
    if (controller !== undefined && !/^https?:\/\/[^/]/.test(controller)) throw new UsageError(`${command}: --controller must be a URL like http://host:8080, got '${controller}'`);
    // every request adds /api/...: a URL that already ends in it would ask for /api/api/...
    if (controller !== undefined && /\/api\/*$/.test(controller)) throw new UsageError(`${command}: --controller is the controller's base URL, without /api (got '${controller}')`);
    const token = readAdminToken(dataDir ?? DEFAULT_DATA_DIR);
    if (!token) {
      throw new UsageError(`${command}: no admin token: run it where the controller's data dir is (--data DIR) or set EDGEFIT_ADMIN_TOKEN`);
    }
    if (controller !== undefined) return new ApiClient(controller.replace(/\/+$/, ''), token);
    // a controller started on that data dir says where it listens
    const dir = dataDir ?? DEFAULT_DATA_DIR;
    const url = readEndpoint(dir);
    if (!url) return new ApiClient(DEFAULT_CONTROLLER, token, `the default; give --controller URL if it runs elsewhere`);
    return new ApiClient(url.replace(/\/+$/, ''), token, `from ${join(dir, ENDPOINT_FILE)}, which a controller that did not shut down cleanly leaves behind`);
  }

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    let response: Response;
    try {
      response = await fetch(`${this.baseUrl}${path}`, {
        method,
        // Bytes (model files) go as they are; anything else as JSON.
        headers: { authorization: `Bearer ${this.token}`, ...(body === undefined ? {} : { 'content-type': body instanceof Uint8Array ? 'application/octet-stream' : 'application/json' }) },
        body: body === undefined ? undefined : body instanceof Uint8Array ? new Blob([Uint8Array.from(body)]) : JSON.stringify(body),
      });
    } catch (err) {
      throw new Error(`cannot reach the controller at ${this.baseUrl}${this.found ? ` (${this.found})` : ''}: ${(err as Error).cause ?? (err as Error).message}`);
    }
    const text = await response.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      // some other server on that port (or a proxy's error page)
      throw new Error(`${method} ${path}: ${this.baseUrl} answered ${response.status} ${response.statusText} with something that is not JSON: is it an edgefit controller?`);
    }
    if (!response.ok) {
      const message = (json as { message?: string } | undefined)?.message ?? response.statusText;
      throw new Error(`${method} ${path}: ${response.status} ${message}`);
    }
    return json as T;
  }
}
