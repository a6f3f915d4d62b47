import type { Logger } from 'pino';

/** A close step still waiting this long is named in the log, and again at each interval (it may never end). */
const SLOW_STEP_MS = 5000;

/**
 * Runs shutdown steps in order; a step that takes longer than 5 s is logged
 * by name while it waits, so a shutdown that hangs says where. Each step runs
 * even when an earlier one failed; the first failure is thrown at the end.
 */
export async function closeInSteps(log: Logger, steps: ReadonlyArray<readonly [string, () => unknown]>, slowMs = SLOW_STEP_MS): Promise<void> {
  let failure: unknown;
  for (const [name, step] of steps) {
    const started = Date.now();
    const slow = setInterval(() => log.warn({ step: name, waitedMs: Date.now() - started }, 'shutdown still waiting'), slowMs);
    slow.unref();
    try {
      await step();
    } catch (err) {
      failure ??= err;
      log.error({ step: name, err: (err as Error).message }, 'shutdown step failed');
    } finally {
      clearInterval(slow);
    }
  }
  if (failure !== undefined) throw failure;
}
