// Which execution providers the loaded onnxruntime binding can run. Its own
// listSupportedBackends() says `bundled: false` for cuda and tensorrt in every
// build (js/node inference_session_wrap.cc): their libraries live outside the
// npm package (the packaged x64 build downloads them on install, a local
// --use_cuda --use_tensorrt build puts them beside its binding). So 'bundled'
// is no answer; the provider's shared library beside the binding is.
import { existsSync } from 'node:fs';
import path from 'node:path';

export interface Backend {
  name: string;
  bundled: boolean;
}

/** onnxruntime's provider bridge libraries, as each platform names them. */
export function providerLibraryNames(provider: string, platform: NodeJS.Platform = process.platform): string[] {
  const base = `onnxruntime_providers_${provider}`;
  if (platform === 'win32') return [`${base}.dll`];
  if (platform === 'darwin') return [`lib${base}.dylib`];
  return [`lib${base}.so`];
}

/** The folder of a binding's native files: `<package>/bin/napi-v6/<platform>/<arch>`. */
export function nativeDir(packageDir: string, platform: string = process.platform, arch: string = process.arch): string {
  return path.join(packageDir, 'bin', 'napi-v6', platform, arch);
}

/**
 * The providers a binding offers: those it bundles, and those whose provider
 * library is present beside its native binding (cuda, tensorrt). Pure but for
 * `exists`, so tests point it at any listing.
 */
export function offeredProviders(backends: readonly Backend[], libDir: string, exists: (file: string) => boolean = existsSync, platform: NodeJS.Platform = process.platform): string[] {
  return backends.filter((b) => b.bundled || providerLibraryNames(b.name, platform).some((f) => exists(path.join(libDir, f)))).map((b) => b.name);
}
