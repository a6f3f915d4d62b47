import { spawn } from 'node:child_process';
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

/**
 * Runs the --on-deploy command through the shell with the hand-over in its
 * environment; each output line is logged. Resolves when it exits 0; rejects
 * with one line on a non-zero exit, a signal, or the timeout (the command
 * and what it started are killed then: it leads its own process group).
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
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (timedOut) return reject(new Error(`the on-deploy command did not finish within ${timeoutS} s`));
      if (code === 0) return resolve();
      const why = code === null ? `was killed by ${signal}` : `exited with ${code}`;
      reject(new Error(`the on-deploy command ${why}${lastLine() ? `: ${lastLine()}` : ''}`));
    });
  });
}
