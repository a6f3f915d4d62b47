import { constants } from 'node:fs';
import { access, copyFile, link, mkdir, open, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { ModelDescriptor } from './descriptor.js';

/** The files of a hand-off folder: the application reads `current.*`; `previous.*` is the model current replaced. */
export function handoffPaths(dir: string) {
  return {
    model: path.join(dir, 'current.onnx'),
    json: path.join(dir, 'current.json'),
    previousModel: path.join(dir, 'previous.onnx'),
    previousJson: path.join(dir, 'previous.json'),
  };
}

async function fsyncPath(file: string, flags = 'r'): Promise<void> {
  const fh = await open(file, flags);
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** A temporary name beside the target: same folder, so the rename is atomic on one file system. */
const beside = (target: string) => path.join(path.dirname(target), `.${path.basename(target)}.${process.pid}.tmp`);

/** Puts `fill`'s file at `target` whole or not at all: written beside it, fsynced, renamed over it, and the folder fsynced. */
async function atomically(target: string, fill: (tmp: string) => Promise<void>): Promise<void> {
  const tmp = beside(target);
  await rm(tmp, { force: true });
  try {
    await fill(tmp);
    await fsyncPath(tmp);
    await rename(tmp, target);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  // the rename itself survives a power cut only once the folder is on disk (Linux; other systems refuse a folder fsync)
  await fsyncPath(path.dirname(target)).catch(() => undefined);
}

export const writeAtomic = (target: string, data: string | Uint8Array) => atomically(target, (tmp) => writeFile(tmp, data));
/** A hard link where the file system allows one (no copy of a model that is already on disk), else a copy. */
const keepAtomic = (source: string, target: string) => atomically(target, (tmp) => link(source, tmp).catch(() => copyFile(source, tmp)));

const exists = (file: string) => access(file, constants.F_OK).then(() => true, () => false);

/** The descriptor in `file`, or null when it is missing or not one of ours. */
export async function readDescriptor(file: string): Promise<ModelDescriptor | null> {
  try {
    const d = JSON.parse(await readFile(file, 'utf8')) as ModelDescriptor;
    return typeof d?.sha256 === 'string' ? d : null;
  } catch {
    return null;
  }
}

/**
 * Hands a model over: the model `current.onnx` holds now is kept as
 * `previous.onnx` (+ json) unless it is the same file, then the new one
 * becomes `current.onnx` and `current.json`, each by atomic rename, so an
 * application reading them never sees half a file. Returns the path of the
 * kept previous model, or null when there is none.
 */
export async function handOver(dir: string, modelPath: string, descriptor: ModelDescriptor): Promise<string | null> {
  const p = handoffPaths(dir);
  await mkdir(dir, { recursive: true });
  const before = await readDescriptor(p.json);
  if (before && before.sha256 !== descriptor.sha256 && (await exists(p.model))) {
    await keepAtomic(p.model, p.previousModel);
    await writeAtomic(p.previousJson, JSON.stringify(before, null, 2) + '\n');
  }
  await atomically(p.model, (tmp) => copyFile(modelPath, tmp));
  await writeAtomic(p.json, JSON.stringify(descriptor, null, 2) + '\n');
  return (await exists(p.previousModel)) ? p.previousModel : null;
}

/** Why the agent cannot keep models in `dir`, or null when it can (checked at start: a flag that cannot work is a usage error). */
export async function unwritableReason(dir: string): Promise<string | null> {
  try {
    await mkdir(dir, { recursive: true });
    await writeAtomic(path.join(dir, '.edgefit-write-check'), 'ok\n');
    await rm(path.join(dir, '.edgefit-write-check'), { force: true });
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}
