import { ONNXRUNTIME_ENV, useLocalOnnxruntime } from '../agent/onnxruntime/binding.js';
import { EdgefitError } from '../protocol/errors.js';

/** Commands that take `--onnxruntime PATH`; EDGEFIT_ONNXRUNTIME is honoured by every command. */
const TAKES_FLAG = new Set(['agent', 'profile']);

function flagValue(argv: string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--onnxruntime') return argv[i + 1];
    if (argv[i].startsWith('--onnxruntime=')) return argv[i].slice('--onnxruntime='.length);
  }
  return undefined;
}

/**
 * Points onnxruntime-node at a local build before the command's modules load
 * (they import onnxruntime at the top, so later would be too late). The
 * command's own parser still sees and validates the flag like any other.
 * A folder that is not an onnxruntime-node package stops the start with one
 * line (E_ONNXRUNTIME_PACKAGE; main names the command).
 */
export async function activateOnnxruntime(command: string, argv: string[]): Promise<void> {
  const fromFlag = TAKES_FLAG.has(command) ? flagValue(argv) : undefined;
  const dir = fromFlag ?? process.env[ONNXRUNTIME_ENV];
  if (!dir) return;
  const source = fromFlag !== undefined ? '--onnxruntime' : ONNXRUNTIME_ENV;
  try {
    useLocalOnnxruntime(dir);
  } catch (err) {
    throw new EdgefitError('E_ONNXRUNTIME_PACKAGE', { reason: `${source} ${(err as Error).message}` });
  }
  // Loaded now, so a build that cannot load (its native binding missing or built for another Node)
  // stops the start with its first line, rather than a stack from deep inside a command.
  try {
    await import('onnxruntime-node');
  } catch (err) {
    throw new EdgefitError('E_ONNXRUNTIME_PACKAGE', { reason: `${source} ${dir} does not load: ${(err as Error).message.split('\n')[0]}` });
  }
}
