import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * A secret that lives in the data directory, created on first use with
 * owner-only permissions: the controller's MQTT password and the admin token.
 */
export function loadOrCreateSecret(dataDir: string, name: 'controller.secret' | 'admin.token'): string {
  const file = path.join(dataDir, name);
  try {
    const value = readFileSync(file, 'utf8').trim();
    if (value.length >= 16) return value;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  mkdirSync(dataDir, { recursive: true });
  const value = randomBytes(24).toString('base64url');
  writeFileSync(file, value + '\n', { mode: 0o600 });
  return value;
}

/** The admin token for the CLI: $EDGEFIT_ADMIN_TOKEN, else the data directory's file. */
export function readAdminToken(dataDir: string): string | undefined {
  if (process.env.EDGEFIT_ADMIN_TOKEN) return process.env.EDGEFIT_ADMIN_TOKEN;
  try {
    return readFileSync(path.join(dataDir, 'admin.token'), 'utf8').trim();
  } catch {
    return undefined;
  }
}
