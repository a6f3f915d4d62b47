import { token } from './token.js';

/** The controller refused the admin token (or there is none). */
export class Unauthorized extends Error {}

/** A refusal from the API: its HTTP status and the catalogue code of its body (protocol/error-catalogue.ts), when it has one. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly code?: string,
  ) {
    super(message);
  }
}

/** The API has no such route (an older controller): not the same as a resource it does not hold. */
export const isMissingRoute = (err: unknown): boolean => err instanceof ApiError && err.code === 'E_ROUTE_UNKNOWN';

/** A JSON call to the controller's API with the admin token as Bearer. */
export async function api<T>(path: string, init: RequestInit = {}): Promise<T> {
  const current = token();
  if (!current) throw new Unauthorized('no admin token');
  const headers = new Headers(init.headers);
  headers.set('authorization', `Bearer ${current}`);
  if (init.body !== undefined) headers.set('content-type', 'application/json');
  const res = await fetch(path, { ...init, headers });
  if (res.status === 401) throw new Unauthorized('the controller refused the admin token');
  const text = await res.text();
  let body: unknown = undefined;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  if (!res.ok) {
    const fields = body && typeof body === 'object' ? (body as { message?: unknown; error?: unknown }) : {};
    const message = fields.message !== undefined ? String(fields.message) : `${res.status} ${res.statusText}`;
    throw new ApiError(res.status, message, typeof fields.error === 'string' ? fields.error : undefined);
  }
  return body as T;
}

/** The resource, or null where it is not there: a resource the controller does not hold, or a route an older controller lacks (features land at different times). */
export async function optional<T>(path: string): Promise<T | null> {
  try {
    return await api<T>(path);
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return null;
    throw err;
  }
}
