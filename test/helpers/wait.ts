import { connect, type Socket } from 'node:net';

/** Polls `probe` until it returns a truthy value or the deadline passes. */
export async function waitFor<T>(probe: () => T | Promise<T>, timeoutMs: number, what: string, intervalMs = 50): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Waits until something accepts TCP connections on 127.0.0.1:`port` (a broker just spawned). */
export async function waitForListening(port: number, what: string, timeoutMs = 10_000): Promise<void> {
  await waitFor(
    () => new Promise<boolean>((resolve) => connect(port, '127.0.0.1').once('connect', function (this: Socket) { this.destroy(); resolve(true); }).once('error', () => resolve(false))),
    timeoutMs,
    what,
    20,
  );
}
