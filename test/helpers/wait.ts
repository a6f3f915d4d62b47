import { connect, type Socket } from 'node:net';
import { waitFor as poll } from '../../bench/faults/processes.js';

/** Polls `probe` every 50 ms until it returns a truthy value or the deadline passes (the fault bench's poll, at the tests' pace). */
export const waitFor = <T>(probe: () => T | Promise<T>, timeoutMs: number, what: string, intervalMs = 50): Promise<NonNullable<T>> => poll(probe, timeoutMs, what, intervalMs);

/** Waits until something accepts TCP connections on 127.0.0.1:`port` (a broker just spawned). */
export async function waitForListening(port: number, what: string, timeoutMs = 10_000): Promise<void> {
  await waitFor(
    () => new Promise<boolean>((resolve) => connect(port, '127.0.0.1').once('connect', function (this: Socket) { this.destroy(); resolve(true); }).once('error', () => resolve(false))),
    timeoutMs,
    what,
    20,
  );
}
