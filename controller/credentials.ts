import { pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';

// Device tokens are stored only as hashes, in Mosquitto's own password-file
// format (PBKDF2-SHA512, "$7$iterations$salt$hash"), so the same stored value
// authenticates against the embedded broker and goes verbatim into a
// Mosquitto password file for the external-broker path.

const ITERATIONS = 101;
const SALT_BYTES = 12;
const HASH_BYTES = 64;

export function newToken(): string {
  return randomBytes(24).toString('base64url');
}

export function hashToken(token: string, salt = randomBytes(SALT_BYTES), iterations = ITERATIONS): string {
  const hash = pbkdf2Sync(token, salt, iterations, HASH_BYTES, 'sha512');
  return `$7$${iterations}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

export function verifyToken(token: string, stored: string): boolean {
  const parts = stored.split('$');
  if (parts.length !== 5 || parts[1] !== '7') return false;
  const iterations = Number(parts[2]);
  if (!Number.isInteger(iterations) || iterations < 1 || iterations > 1_000_000) return false;
  const salt = Buffer.from(parts[3], 'base64');
  const expected = Buffer.from(parts[4], 'base64');
  if (expected.length !== HASH_BYTES) return false;
  const actual = pbkdf2Sync(token, salt, iterations, HASH_BYTES, 'sha512');
  return timingSafeEqual(actual, expected);
}

/**
 * The parts of a stored hash, base64 as Mosquitto's dynamic-security plugin
 * keeps them in its JSON file (`password`, `salt`, `iterations`). The plugin
 * of Mosquitto 2.0 hashes with PBKDF2-SHA512, a 12-byte salt and 101
 * iterations (src/password_mosq.h: SALT_LEN 12, PW_DEFAULT_ITERATIONS 101),
 * the registry's own format, so a registered device's hash goes into that
 * file as it is; undefined for anything else.
 */
export function pbkdf2Fields(stored: string): { password: string; salt: string; iterations: number } | undefined {
  const parts = stored.split('$');
  if (parts.length !== 5 || parts[1] !== '7') return undefined;
  const iterations = Number(parts[2]);
  if (!Number.isInteger(iterations) || iterations < 1) return undefined;
  if (Buffer.from(parts[3], 'base64').length !== SALT_BYTES || Buffer.from(parts[4], 'base64').length !== HASH_BYTES) return undefined;
  return { password: parts[4], salt: parts[3], iterations };
}
