import { token } from './token.js';

/** The controller refused the admin token (or there is none). */
export class Unauthorized extends Error {}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

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
    const message = body && typeof body === 'object' && 'message' in body ? String((body as { message: unknown }).message) : `${res.status} ${res.statusText}`;
    throw new ApiError(res.status, message);
  }
  return body as T;
}

/** Whether the endpoint exists on this controller (features land at different times). */
export async function optional<T>(path: string): Promise<T | null> {
  try {
    return await api<T>(path);
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return null;
    throw err;
  }
}
