// The embedded broker under a fleet's load: how many connections wait to be
// accepted, and how the broker lets go of thousands of them when it closes.

/**
 * Pending connections the kernel keeps for the broker: Node's default, 511,
 * was full during the first probe's 10,000-device connection storm (Linux caps
 * it at net.core.somaxconn, 4096 on current kernels).
 */
export const LISTEN_BACKLOG = 4096;
/** Client connections cut per turn of the event loop when the broker closes (see closeClientsInBatches). */
export const CLOSE_BATCH = 200;

/**
 * Cuts every client connection, CLOSE_BATCH per turn of the event loop, and
 * resolves once aedes has let go of all of them. Closing thousands at once
 * inside aedes' own close() crashed the first probe's controller with
 * `RangeError: Maximum call stack size exceeded` (aedes/lib/client.js
 * nextBatch): each closing client publishes its last will to the others in
 * the same synchronous cascade.
 */
export async function closeClientsInBatches(connections: Set<{ destroy(): void }>, connected: () => number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (connections.size > 0 && Date.now() < deadline) {
    let n = 0;
    for (const c of connections) {
      connections.delete(c);
      c.destroy();
      if (++n >= CLOSE_BATCH) break;
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
  while (connected() > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
}
