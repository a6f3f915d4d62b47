import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ProfileOptions } from '../../protocol/messages.js';
import { oneLine } from '../../protocol/one-line.js';
import { NODE_LAUNCHER_ENV, nodeLaunch } from './launcher.js';
import { GLIBC_TUNABLES, withMallocTunables } from './malloc-tunables.js';
import type { MeasureInput, MeasuredProfile } from './measure.js';

export type ProfileOutcome = { ok: true; report: MeasuredProfile } | { ok: false; error: string };

const CHILD = fileURLToPath(new URL('./child.js', import.meta.url));
const STDERR_TAIL = 2000;

/** Generous enough for the requested work plus model load, short enough that a hang is noticed. */
export function defaultTimeoutS(options: ProfileOptions): number {
  const perThreadCount = 300 + 2 * (options.durationS ?? 0) + (options.sustainedS ?? 0);
  return perThreadCount * (options.threadsSweep?.length ?? 1);
}

/**
 * Profiles in a child process under a hard timeout. Whatever happens there (a
 * native crash, the OOM killer, an endless run) comes back as a failed
 * outcome with the reason; the caller lives on.
 */
export function profileIsolated(input: MeasureInput): Promise<ProfileOutcome> {
  const timeoutS = input.options.timeoutS ?? defaultTimeoutS(input.options);
  return new Promise((resolve) => {
    const launch = nodeLaunch(process.execPath, process.env[NODE_LAUNCHER_ENV]);
    const env = { ...process.env, [GLIBC_TUNABLES]: withMallocTunables(process.env[GLIBC_TUNABLES]) };
    const child = fork(CHILD, [], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'], execPath: launch.execPath, execArgv: launch.execArgv, env });
    let stderr = '';
    let settled: ProfileOutcome | undefined;
    let timedOut = false;
    child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-STDERR_TAIL)));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutS * 1000);
    child.once('message', (message) => (settled = message as ProfileOutcome));
    // 'error' can come more than once, and when the fork itself failed no 'exit' may follow:
    // without a process there is nothing to wait for (a failed send or kill leaves it to 'exit').
    child.on('error', (err) => {
      if (child.pid !== undefined) return;
      clearTimeout(timer);
      resolve({ ok: false, error: `cannot start the profiling process: ${err.message}` });
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (settled) return resolve(settled);
      const tail = stderr.trim().split('\n').slice(-5).join(' | ');
      let why: string;
      if (timedOut) why = `profiling timed out after ${timeoutS} s and was killed`;
      else if (signal === 'SIGKILL') why = 'profiling process was killed (SIGKILL: out of memory?)';
      else if (signal) why = `profiling process died of ${signal}`;
      else why = `profiling process exited with code ${code} without a result`;
      resolve({ ok: false, error: tail ? `${why}: ${oneLine(tail, 1000)}` : why });
    });
    // A fork that failed has no IPC channel ('error' settles it); a child that died before reading
    // its job is reported by 'exit', so the send error adds nothing.
    if (child.connected) child.send({ modelPath: input.modelPath, options: input.options, ...(input.framesDir ? { framesDir: input.framesDir } : {}), ...(input.source ? { source: input.source } : {}), ...(input.stateDir ? { stateDir: input.stateDir } : {}), ...(input.check?.length ? { check: input.check } : {}) }, () => undefined);
  });
}
