import { spawn } from 'node:child_process';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';

export interface HookEnv {
  EDGEFIT_MODEL: string;
  EDGEFIT_MODEL_JSON: string;
  EDGEFIT_CANDIDATE: string;
  EDGEFIT_SHA256: string;
  EDGEFIT_GENERATION: string;
  /** '' when no model was replaced. */
  EDGEFIT_PREVIOUS_MODEL: string;
}

/** Output kept for the failure reason: the last lines say why. */
const TAIL_CHARS = 600;

/** After the command exits, how long its last output may take to arrive. */
const OUTPUT_GRACE_MS = 500;

/**
 * Runs the --on-deploy command through the shell with the hand-over in its
 * environment; each output line is logged. Resolves when it exits 0; rejects
 * with one line on a non-zero exit, a signal, or the timeout (the command
 * and what it started are killed then: it leads its own process group).
 * It is done when the shell exits, not when its output closes: a command that
 * starts the application in the background (`app &`) leaves it holding the
 * pipes, and waiting for them would time out and kill the application. What
 * such an application writes later is read and dropped (a closed pipe would
 * kill it with SIGPIPE); redirect its output to keep it.
 */
export function runHook(command: string, env: HookEnv, timeoutS: number, log: Logger): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, { shell: true, detached: true, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let tail = '';
    let timedOut = false;
    const lines = (stream: 'stdout' | 'stderr') => {
      let partial = '';
      return (chunk: Buffer) => {
        const text = partial + chunk.toString();
        const parts = text.split('\n');
        partial = parts.pop() ?? '';
        for (const line of parts) log.info({ stream, generation: env.EDGEFIT_GENERATION }, `on-deploy: ${line}`);
        tail = (tail + chunk.toString()).slice(-TAIL_CHARS);
      };
    };
    child.stdout!.on('data', lines('stdout'));
    child.stderr!.on('data', lines('stderr'));
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    }, timeoutS * 1000);
    const lastLine = () => tail.trim().split('\n').at(-1)?.slice(0, 300) ?? '';
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`the on-deploy command could not start: ${err.message}`));
    });
    const settle = (code: number | null, signal: NodeJS.Signals | null) => {
      clearTimeout(timer);
      for (const stream of [child.stdout!, child.stderr!]) {
        stream.removeAllListeners('data');
        stream.resume();
        (stream as Readable & { unref?: () => void }).unref?.();
      }
      if (timedOut) return reject(new Error(`the on-deploy command did not finish within ${timeoutS} s`));
      if (code === 0) return resolve();
      const why = code === null ? `was killed by ${signal}` : `exited with ${code}`;
      reject(new Error(`the on-deploy command ${why}${lastLine() ? `: ${lastLine()}` : ''}`));
    };
    child.once('exit', (code, signal) => {
      // its last lines, unless something it started in the background keeps the pipes open
      const grace = setTimeout(() => settle(code, signal), OUTPUT_GRACE_MS);
      child.once('close', () => {
        clearTimeout(grace);
        settle(code, signal);
      });
    });
  });
}
