// The processes of a fault run: the built CLI (controller, agents) and
// Mosquitto, each a real process that a fault may SIGKILL, with its output
// kept (the tail) to say what happened when an invariant breaks.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

function findRepoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'package.json')) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return dir;
}

export const repoRoot = findRepoRoot();
/** The built CLI: tests and `npm run bench` build first. */
export const cliPath = path.join(repoRoot, 'dist', 'cli', 'main.js');
export const mosquittoBin = ['/usr/sbin/mosquitto', '/usr/bin/mosquitto'].find((p) => existsSync(p) && spawnSync(p, ['-h']).status !== null);

const KEEP_OUTPUT = 256 * 1024;

export interface Proc {
  name: string;
  child: ChildProcess;
  /** The last 256 KiB of stdout and stderr. */
  output(): string;
  exited: Promise<void>;
  running(): boolean;
}

/** Starts `cmd` (a program and its arguments); `env` joins the environment. */
export function spawnProc(name: string, cmd: readonly string[], env: Record<string, string> = {}): Proc {
  const child = spawn(cmd[0], cmd.slice(1), { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const keep = (d: Buffer) => {
    out += d.toString();
    if (out.length > KEEP_OUTPUT * 2) out = out.slice(-KEEP_OUTPUT);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  // an executable that cannot start reports it here, not as a throw
  child.on('error', (err) => keep(Buffer.from(`spawn failed: ${err.message}\n`)));
  // 'exit', not 'close': a SIGKILLed agent's profiling child may hold its pipes a while longer
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.once('error', () => resolve());
  });
  return { name, child, output: () => out.slice(-KEEP_OUTPUT), exited, running: () => child.exitCode === null && child.signalCode === null };
}

/** The CLI's command line, optionally behind a prefix (`ip netns exec NAME`). */
export function cliCommand(args: readonly string[], prefix: readonly string[] = []): string[] {
  if (!existsSync(cliPath)) throw new Error(`${cliPath} is missing: run 'npm run build' first`);
  return [...prefix, process.execPath, cliPath, ...args];
}

/** Signals the process and waits for it; one that outlives `limitMs` is killed. */
export async function stopProc(p: Proc | undefined, signal: NodeJS.Signals = 'SIGTERM', limitMs = 20_000): Promise<void> {
  if (!p || !p.running()) return;
  p.child.kill(signal);
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<true>((resolve) => (timer = setTimeout(() => resolve(true), limitMs)));
  if ((await Promise.race([p.exited, hung])) === true) {
    p.child.kill('SIGKILL');
    await p.exited;
  }
  clearTimeout(timer);
}

/** Polls `probe` until it returns a truthy value or the deadline passes. */
export async function waitFor<T>(probe: () => T | Promise<T>, timeoutMs: number, what: string, intervalMs = 100): Promise<NonNullable<T>> {
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

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function freePort(host = '127.0.0.1'): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, host, () => r()));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((r) => server.close(r));
  return port;
}

export function listening(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, host);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}
