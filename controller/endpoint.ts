// Where a running controller's HTTP API listens, kept in its data directory:
// the CLI pointed at that directory (--data DIR) finds the controller on
// whatever port it took, without a --controller URL. A controller that is
// still starting (database, broker, certificates, then the HTTP listener)
// says so in a second file holding its pid, so that a CLI run meanwhile waits
// for the URL instead of failing: `devices add` four seconds after `controller`
// started used to fail with "cannot reach the controller".
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export const ENDPOINT_FILE = 'controller.url';
export const STARTING_FILE = 'controller.starting';

/** Written whole or not at all: a CLI reading it mid-write must not see half a URL. */
export function writeEndpoint(dataDir: string, url: string): void {
  const file = path.join(dataDir, ENDPOINT_FILE);
  writeFileSync(`${file}.tmp`, url + '\n');
  renameSync(`${file}.tmp`, file);
}

export function readEndpoint(dataDir: string): string | undefined {
  try {
    const url = readFileSync(path.join(dataDir, ENDPOINT_FILE), 'utf8').trim();
    return ['http:', 'https:'].includes(new URL(url).protocol) ? url : undefined;
  } catch {
    return undefined;
  }
}

/** Removes the file if it still names `url` (another controller may have taken the directory since). */
export function clearEndpoint(dataDir: string, url: string): void {
  if (readEndpoint(dataDir) === url) rmSync(path.join(dataDir, ENDPOINT_FILE), { force: true });
}

/** First thing a starting controller does. */
export function markStarting(dataDir: string, pid = process.pid): void {
  mkdirSync(dataDir, { recursive: true });
  const file = path.join(dataDir, STARTING_FILE);
  writeFileSync(`${file}.tmp`, `${pid}\n`);
  renameSync(`${file}.tmp`, file);
}

/** Once the URL is written, or the start failed; only the file this process wrote. */
export function clearStarting(dataDir: string, pid = process.pid): void {
  if (startingPid(dataDir, () => true) === pid) rmSync(path.join(dataDir, STARTING_FILE), { force: true });
}

/** The pid of a controller starting on this folder now; a file left by a process that died while starting names none. */
export function startingPid(dataDir: string, alive: (pid: number) => boolean = processAlive): number | undefined {
  let text: string;
  try {
    text = readFileSync(path.join(dataDir, STARTING_FILE), 'utf8').trim();
  } catch {
    return undefined;
  }
  const pid = /^\d{1,10}$/.test(text) ? Number(text) : NaN;
  return Number.isSafeInteger(pid) && pid > 0 && alive(pid) ? pid : undefined;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists, under another user
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
