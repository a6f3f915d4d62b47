import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../fixtures.js';

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

export async function stop(p: CliProcess | undefined, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (!p || p.child.exitCode !== null || p.child.signalCode !== null) return;
  p.child.kill(signal);
  await p.exited;
}
