// How the CLI reports a command that failed: one line and an exit status,
// both from the error catalogue (protocol/error-catalogue.ts) when the error
// is coded, so a failure reads as the API answers it and the log records it.
import { isCoded } from '../protocol/errors.js';

/**
 * The line is 'edgefit <command>: <message>'. Usage mistakes and a few
 * failures already start with the command's name ('prune: give exactly one
 * of --ratio and --flops-cut', 'agent --source X: …'): the name is not said
 * twice. A usage line ('usage: edgefit …') is printed as it is. An error
 * without a code (a bug, or a library's own) exits 1.
 */
export function failure(err: unknown, command: string | undefined): { line: string; exit: 1 | 2 } {
  const message = err instanceof Error ? err.message : String(err);
  const exit = isCoded(err) ? err.exitCode : 1;
  if (message.startsWith('usage: ')) return { line: message, exit };
  if (command === undefined) return { line: `edgefit: ${message}`, exit };
  const named = message === command || message.startsWith(`${command}:`) || message.startsWith(`${command} `);
  return { line: named ? `edgefit ${message}` : `edgefit ${command}: ${message}`, exit };
}
