import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';

// --token-file: the device's token in a file the operator owns. The agent
// reads it again whenever the broker refuses the token it has, so after
// `edgefit devices rotate-token ID` writing the new token to that file is all
// a running agent needs: no restart.

export class TokenFileError extends Error {
  override name = 'TokenFileError';
}

/** A token is one line; anything longer than this is not one of ours (ours are 32 characters). */
const MAX_TOKEN = 1024;

/** The token in `file`: its first line, without surrounding blanks. */
export function readTokenFile(file: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new TokenFileError(`cannot read the token file ${file}: ${(err as Error).message}`);
  }
  const token = (text.trim().split(/\r?\n/)[0] ?? '').trim();
  if (token === '') throw new TokenFileError(`the token file ${file} is empty: write the device's token in it (printed by 'edgefit devices add' or 'devices rotate-token')`);
  if (token.length > MAX_TOKEN) throw new TokenFileError(`the token file ${file} holds ${token.length} characters on its first line, not a token`);
  return token;
}

/**
 * A function that reads `file` again and answers the token there when it is
 * not `initial` (nor the last one it answered), else undefined. A file that
 * cannot be read keeps the token the agent has, and says why.
 */
export function tokenReloader(file: string, initial: string, log: Logger, onChange?: (token: string) => void): () => string | undefined {
  let current = initial;
  return () => {
    let next: string;
    try {
      next = readTokenFile(file);
    } catch (err) {
      log.warn({ file, err: (err as Error).message }, 'cannot read the token file again; keeping the token the agent has');
      return undefined;
    }
    if (next === current) return undefined;
    current = next;
    onChange?.(next);
    return next;
  };
}
