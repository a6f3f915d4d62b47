import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'vitest';
import { repoRoot } from '../fixtures.js';
import { commands, type CommandSpec } from '../../cli/commands.js';
import { failure } from '../../cli/failure.js';

/** The built CLI: `npm test` builds before vitest runs, so child processes run real dist code. */
export const cliPath = path.join(repoRoot, 'dist', 'cli', 'main.js');

export interface CliProcess {
  child: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
}

/** `detached`: the CLI leads its own process group (a test can signal it with its children). */
export function spawnCli(args: string[], env: Record<string, string> = {}, opts: { detached?: boolean } = {}): CliProcess {
  if (!existsSync(cliPath)) throw new Error(`${cliPath} is missing: run 'npm run build' first (npm test does)`);
  const child = spawn(process.execPath, [cliPath, ...args], { env: { ...process.env, EDGEFIT_LOG_LEVEL: 'debug', ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: opts.detached });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => out, exited };
}

export async function runCli(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; output: string }> {
  const p = spawnCli(args, env);
  const code = await p.exited;
  return { code, output: p.output() };
}

/** How long a stopped CLI process may take to exit before it is killed: longer than its own shutdown deadline. */
const STOP_LIMIT_MS = 25_000;

/** Signals the process and waits for it; one that outlives STOP_LIMIT_MS is killed, with its last lines printed to say where it hung. */
export async function stop(p: CliProcess | undefined, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (!p || p.child.exitCode !== null || p.child.signalCode !== null) return;
  p.child.kill(signal);
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<true>((resolve) => (timer = setTimeout(() => resolve(true), STOP_LIMIT_MS)));
  if ((await Promise.race([p.exited, hung])) === true) {
    console.warn(`pid ${p.child.pid} did not exit ${STOP_LIMIT_MS / 1000} s after ${signal}: killed; its last lines:\n${p.output().trim().split('\n').slice(-8).join('\n')}`);
    p.child.kill('SIGKILL');
    await p.exited;
  }
  clearTimeout(timer);
}

export interface ApartRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Still running after `limitMs`: killed with its process group (it should have stopped). */
  killed: boolean;
}

/**
 * The CLI as a user's script runs it, stdout and stderr kept apart. It leads
 * its own process group, so a kill also takes what it started (up's agent).
 * `fileLimitKb` runs it under `ulimit -f` (writes past it fail with EFBIG).
 */
export function runCliApart(args: string[], opts: { env?: Record<string, string>; limitMs?: number; fileLimitKb?: number; stdio?: StdioOptions } = {}): Promise<ApartRun> {
  const env = { ...process.env, EDGEFIT_LOG_LEVEL: 'warn', ...opts.env };
  const spawnOpts = { env, stdio: opts.stdio ?? (['ignore', 'pipe', 'pipe'] as StdioOptions), detached: true };
  const child =
    opts.fileLimitKb === undefined
      ? spawn(process.execPath, [cliPath, ...args], spawnOpts)
      : spawn('bash', ['-c', `ulimit -f ${opts.fileLimitKb}; exec "$0" "$@"`, process.execPath, cliPath, ...args], spawnOpts);
  let stdout = '';
  let stderr = '';
  let killed = false;
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => {
    killed = true;
    process.kill(-child.pid!, 'SIGKILL');
  }, opts.limitMs ?? 15_000);
  return new Promise((resolve) =>
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, killed });
    }),
  );
}

/** A mistake in the command line: exit 2, one message on stderr, nothing on stdout, no stack trace. */
export function expectUsage(r: Omit<ApartRun, 'killed'>, message: RegExp): void {
  expect(r.code, r.stderr).toBe(2);
  expect(r.stderr).toMatch(message);
  expect(r.stdout).toBe('');
  expect(r.stderr).not.toMatch(/\n\s+at /);
}

/** Input that cannot be used (a missing file, a broken model): exit 1, one message on stderr, nothing on stdout, no stack trace. */
export function expectFailure(r: Omit<ApartRun, 'killed'>, message: RegExp): void {
  expect(r.code, r.stderr).toBe(1);
  expect(r.stderr).toMatch(message);
  expect(r.stdout).toBe('');
  expect(r.stderr).not.toMatch(/\n\s+at /);
}

/** A command's entry in the command table, as the dispatch hands it to the command's run(). */
export function commandSpec(name: string): CommandSpec {
  const spec = commands.find((c) => c.name === name);
  if (!spec) throw new Error(`no command '${name}'`);
  return spec;
}

/**
 * A command run in this process as main.ts runs it: given its spec, and a
 * failure written to stderr as its one line and answered with its exit status.
 */
export async function dispatched(name: string, argv: string[]): Promise<number> {
  const spec = commandSpec(name);
  try {
    return (await (await spec.load()).run(argv, spec)) ?? 0;
  } catch (err) {
    const { line, exit } = failure(err, name);
    process.stderr.write(`${line}\n`);
    return exit;
  }
}
