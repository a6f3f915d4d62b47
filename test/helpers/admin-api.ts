import type { Controller } from '../../controller/controller.js';

/** A JSON call to the controller's API with its admin token: the status and the parsed body. */
export function adminApi(controller: () => Controller) {
  return async (method: string, p: string, body?: unknown) => {
    const c = controller();
    const res = await fetch(c.httpUrl + p, {
      method,
      headers: { authorization: `Bearer ${c.adminToken}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
}
