// Which onnxruntime-node the process loads: the packaged CPU build, or a local
// build (`--onnxruntime PATH` / EDGEFIT_ONNXRUNTIME), the route to CUDA and
// TensorRT on a Jetson (`build.sh --use_cuda --use_tensorrt --build_nodejs`).
// This module imports no onnxruntime itself: it must run before anything does.
import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import * as nodeModule from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { OnnxruntimeBinding } from '../../protocol/messages.js';
import { nativeDir, offeredProviders, type Backend } from './backends.js';

export const ONNXRUNTIME_ENV = 'EDGEFIT_ONNXRUNTIME';

/** A folder holding an onnxruntime-node package: its entry file, or an Error whose message is one line saying what is wrong. */
export function localPackageEntry(dir: string): string | Error {
  const manifest = path.join(dir, 'package.json');
  if (!existsSync(dir)) return new Error(`${dir}: no such folder`);
  if (!statSync(dir).isDirectory()) return new Error(`${dir} is not a folder (give the onnxruntime-node package folder, e.g. onnxruntime/js/node)`);
  if (!existsSync(manifest)) return new Error(`${dir} is not an onnxruntime-node package (no package.json)`);
  let pkg: { name?: unknown; main?: unknown };
  try {
    pkg = JSON.parse(readFileSync(manifest, 'utf8')) as typeof pkg;
  } catch (err) {
    return new Error(`${manifest}: ${(err as Error).message.split('\n')[0]}`);
  }
  if (pkg.name !== 'onnxruntime-node') return new Error(`${dir} is not an onnxruntime-node package (its package.json names '${String(pkg.name)}')`);
  const entry = path.resolve(dir, typeof pkg.main === 'string' ? pkg.main : 'index.js');
  const file = existsSync(entry) ? entry : existsSync(entry + '.js') ? entry + '.js' : null;
  if (file === null) return new Error(`${dir}: onnxruntime-node package without its entry ${path.relative(dir, entry)} (was it built? run its 'npm run build')`);
  return file;
}

let active: string | null = null;

/**
 * Points every later `import 'onnxruntime-node'` of this process at the local
 * build in `dir`, and puts it in the environment so the profiling child (which
 * inherits it) loads the same one. Throws an Error with one line on a folder
 * that is not an onnxruntime-node package.
 */
export function useLocalOnnxruntime(dir: string): void {
  const abs = path.resolve(dir);
  const entry = localPackageEntry(abs);
  if (entry instanceof Error) throw entry;
  if (active === abs) return;
  // module.register came with Node 20.6; package.json allows any Node 20
  if (typeof nodeModule.register !== 'function') throw new Error(`loading a local onnxruntime build needs Node.js 20.6 or later (this is ${process.version})`);
  nodeModule.register(new URL('./resolve-hook.js', import.meta.url), { data: { entryUrl: pathToFileURL(entry).href } });
  active = abs;
  process.env[ONNXRUNTIME_ENV] = abs;
}

/** Honours EDGEFIT_ONNXRUNTIME where it is set (the profiling child, a systemd unit). */
export function useOnnxruntimeFromEnv(): void {
  const dir = process.env[ONNXRUNTIME_ENV];
  if (dir) useLocalOnnxruntime(dir);
}

/** The package folder above a resolved entry file. */
function packageDirOf(file: string): string {
  let dir = path.dirname(file);
  while (path.dirname(dir) !== dir) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    dir = path.dirname(dir);
  }
  return path.dirname(file);
}

/** The onnxruntime-node package this process resolves to (through the hook, when one is registered). */
function resolvedPackageDir(): string {
  return packageDirOf(fileURLToPath(import.meta.resolve('onnxruntime-node')));
}

/** The execution providers the binding this process loaded can run (see backends.ts): its bundled ones and those whose library lies beside it. */
export function loadedProviders(backends: readonly Backend[]): string[] {
  return offeredProviders(backends, nativeDir(resolvedPackageDir()));
}

/**
 * The binding this process resolves `onnxruntime-node` to (through the hook,
 * when one is registered) and the version the loaded code reports: the inventory's
 * word on what runs, read from what was loaded rather than from the flag.
 */
export function bindingInfo(loadedVersion: string): OnnxruntimeBinding {
  const dir = resolvedPackageDir();
  const local = active !== null && realpathSync(dir) === realpathSync(active);
  return { source: local ? 'local' : 'packaged', path: dir.slice(0, 4096), version: loadedVersion.slice(0, 32) };
}
