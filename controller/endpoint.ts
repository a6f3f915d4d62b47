// Where a running controller's HTTP API listens, kept in its data directory:
// the CLI pointed at that directory (--data DIR) finds the controller on
// whatever port it took, without a --controller URL.
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const FILE = 'controller.url';

export function writeEndpoint(dataDir: string, url: string): void {
  writeFileSync(path.join(dataDir, FILE), url + '\n');
}

export function readEndpoint(dataDir: string): string | undefined {
  try {
    const url = readFileSync(path.join(dataDir, FILE), 'utf8').trim();
    return /^https?:\/\/\S+$/.test(url) ? url : undefined;
  } catch {
    return undefined;
  }
}

/** Removes the file if it still names `url` (another controller may have taken the directory since). */
export function clearEndpoint(dataDir: string, url: string): void {
  if (readEndpoint(dataDir) === url) rmSync(path.join(dataDir, FILE), { force: true });
}
