// The model files a command reads and writes: errors name the file, and an
// output is checked before the work and only appears once it is complete.
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Model } from '../compress/onnx/ir.js';
import { ModelFormatError, readModel } from '../compress/onnx/read.js';
import { writeModelFile } from '../compress/onnx/write.js';
import { UsageError, requireFlag } from './args.js';

/** A model given on the command line, with its bytes (lineage hashes them); a missing, unreadable or broken file is a ModelFormatError naming it. */
export function readModelInput(file: string): { bytes: Buffer; model: Model } {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    throw new ModelFormatError(`cannot read model file '${file}': ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  try {
    return { bytes, model: readModel(bytes) };
  } catch (err) {
    if (err instanceof ModelFormatError) throw new ModelFormatError(`${file}: ${err.message}`);
    throw err;
  }
}

/** An output file that cannot be written. */
export class OutputError extends Error {}

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
    throw new OutputError(`cannot create the folder for ${value}: ${why}`);
  }
  return out;
}

/** Writes OUT whole or not at all (see writeModelFile); a failure is an OutputError naming it. */
export function writeModelOutput(model: Model, out: string): void {
  try {
    writeModelFile(model, out);
  } catch (err) {
    throw new OutputError(`cannot write ${out}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}
