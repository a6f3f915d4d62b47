// The model file a command writes: checked before the work, and it only
// appears once it is complete.
import { mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Model } from '../compress/onnx/ir.js';
import { writeModelFile } from '../compress/onnx/write.js';
import { UsageError, requireFlag } from './args.js';
import { EdgefitError } from '../protocol/errors.js';

/** A folder flag that may not exist yet (it is created when used) but must not name a file. */
export function refuseFile(command: string, flag: string, value: string, hint = 'give a folder'): void {
  let file = false;
  try {
    file = !statSync(value).isDirectory();
  } catch {
    // not there yet: created when it is used
  }
  if (file) throw new UsageError(`${command}: --${flag} ${value} is a file; ${hint}`);
}

/**
 * `-o OUT`, checked before any work (a prune can run for minutes): a folder is a
 * usage mistake; the folder it goes in is created, as `model build` always did.
 */
export function outputPath(command: string, value: string | undefined): string {
  const out = path.resolve(requireFlag(command, 'out', value));
  let isDir = false;
  try {
    isDir = statSync(out).isDirectory();
  } catch {
    // not there yet: the usual case
  }
  if (isDir) throw new UsageError(`${command}: -o ${value} is a folder; give the path of the file to write`);
  try {
    mkdirSync(path.dirname(out), { recursive: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'EEXIST' || code === 'ENOTDIR' ? 'a file is in the way' : code ?? (err as Error).message;
    throw new EdgefitError('E_OUTPUT_WRITE', { reason: `cannot create the folder for ${value}: ${why}` });
  }
  return out;
}

/** Writes OUT whole or not at all (see writeModelFile); a failure is an E_OUTPUT_WRITE naming it. */
export function writeModelOutput(model: Model, out: string): void {
  try {
    writeModelFile(model, out);
  } catch (err) {
    throw new EdgefitError('E_OUTPUT_WRITE', { reason: `cannot write ${out}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` });
  }
}
