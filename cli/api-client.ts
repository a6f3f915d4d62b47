import { readAdminToken } from '../controller/secrets.js';
import { readEndpoint } from '../controller/endpoint.js';
import { UsageError } from './args.js';

export const DEFAULT_CONTROLLER = 'http://127.0.0.1:8080';
export const DEFAULT_DATA_DIR = './.edgefit';

/** The CLI's side of the HTTP API: admin token from the data dir, errors as plain sentences. */
export class ApiClient {
  constructor(
    private readonly baseUrl: string,
    private readonly token: string,
  ) {}

  static fromFlags(command: string, controller: string | undefined, dataDir: string | undefined): ApiClient {
    const token = readAdminToken(dataDir ?? DEFAULT_DATA_DIR);
    if (!token) {
      throw new UsageError(`${command}: no admin token: run it where the controller's data dir is (--data DIR) or set EDGEFIT_ADMIN_TOKEN`);
    }
    // a controller started on that data dir says where it listens
    const url = controller ?? readEndpoint(dataDir ?? DEFAULT_DATA_DIR) ?? DEFAULT_CONTROLLER;
    return new ApiClient(url.replace(/\/+$/, ''), token);
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
      throw new Error(`cannot reach the controller at ${this.baseUrl}: ${(err as Error).cause ?? (err as Error).message}`);
    }
    const text = await response.text();
    const json = text ? (JSON.parse(text) as unknown) : undefined;
    if (!response.ok) {
      const message = (json as { message?: string } | undefined)?.message ?? response.statusText;
      throw new Error(`${method} ${path}: ${response.status} ${message}`);
    }
    return json as T;
  }
}
