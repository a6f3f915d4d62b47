// Where a running controller's HTTP API listens, kept in its data directory:
// the CLI pointed at that directory (--data DIR) finds the controller on
// whatever port it took, without a --controller URL.
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export const ENDPOINT_FILE = 'controller.url';

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
