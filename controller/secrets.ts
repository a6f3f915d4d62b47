import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * A secret that lives in the data directory, created on first use with
 * owner-only permissions: the controller's MQTT password, the admin token and
 * the metrics (scrape) token.
 */
export function loadOrCreateSecret(dataDir: string, name: 'controller.secret' | 'admin.token' | 'metrics.token'): string {
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

/** Shorter secrets are refused: the generated ones are 32 characters (24 random bytes). */
const MIN_TOKEN_LENGTH = 16;

/**
 * The read-only token that scrapes GET /metrics and nothing else:
 * $EDGEFIT_METRICS_TOKEN when set (e.g. from a secret store shared with
 * Prometheus), else metrics.token in the data directory, created on first use.
 * An override that is short, or is the admin token (which would let the scrape
 * token call the admin API), is refused with one line.
 */
export function loadMetricsToken(dataDir: string, adminToken: string, env: NodeJS.ProcessEnv = process.env): string {
  const override = env.EDGEFIT_METRICS_TOKEN?.trim();
  if (!override) return loadOrCreateSecret(dataDir, 'metrics.token');
  if (override.length < MIN_TOKEN_LENGTH) throw new Error(`EDGEFIT_METRICS_TOKEN is ${override.length} characters: use at least ${MIN_TOKEN_LENGTH} (or unset it to use ${path.join(dataDir, 'metrics.token')})`);
  if (override === adminToken) throw new Error('EDGEFIT_METRICS_TOKEN is the admin token: the scrape token must be a token of its own');
  return override;
}
