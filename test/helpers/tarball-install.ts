// The project as a device installs it (README, "Running an agent on a Jetson or
// a Raspberry Pi"): the `npm pack` tarball unpacked, then `npm ci --omit=dev`
// in it against its npm-shrinkwrap.json, offline from npm's cache. `npm ci`
// fills the cache with every locked tarball but no registry metadata, so an
// `npm install --offline edgefit-0.1.0.tgz` ends ENOTCACHED (measured, npm 11);
// `npm ci` on the shrinkwrap needs none.
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, renameSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../fixtures.js';

/**
 * The environment for npm: without the npm_* variables of the `npm test` or
 * `npx vitest` that runs this suite (npm reads npm_config_* as its own config).
 */
function npmEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k))), ...extra };
}

/**
 * `npm pack` of the repository into `dest`; returns the tarball's path. Without
 * its prepack script: that rebuilds dist/, which `npm test` has just built and
 * which suites running beside this one are executing. So the tarball lacks the
 * npm-shrinkwrap.json that prepack copies from package-lock.json;
 * installTarball puts the same file in its place.
 */
export function packRepo(dest: string): string {
  const out = execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dest], { cwd: repoRoot, env: npmEnv(), encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const [{ filename }] = JSON.parse(out) as Array<{ filename: string }>;
  return path.join(dest, filename);
}

/** The files a tarball holds, as `package/…` paths. */
export function tarballFiles(tgz: string): string[] {
  return execFileSync('tar', ['-tzf', tgz], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 }).split('\n').filter(Boolean);
}

/**
 * Unpacks `tgz` to `dir`/edgefit and installs its production dependencies
 * there for the given platform, offline; returns that folder.
 */
export function installTarball(tgz: string, dir: string, target: { cpu: string; os: string }): string {
  mkdirSync(dir, { recursive: true });
  execFileSync('tar', ['-xzf', tgz, '-C', dir]);
  const pkgDir = path.join(dir, 'edgefit');
  renameSync(path.join(dir, 'package'), pkgDir);
  const shrinkwrap = path.join(pkgDir, 'npm-shrinkwrap.json');
  if (!existsSync(shrinkwrap)) copyFileSync(path.join(repoRoot, 'package-lock.json'), shrinkwrap);
  execFileSync('npm', ['ci', '--omit=dev', '--offline', `--cpu=${target.cpu}`, `--os=${target.os}`, '--no-audit', '--no-fund'], {
    cwd: pkgDir,
    // onnxruntime-node bundles its CPU binaries for every platform; its install step only fetches CUDA
    // files. npm 11 skips it by package.json's allowScripts, npm 10 by this variable.
    env: npmEnv({ ONNXRUNTIME_NODE_INSTALL: 'skip' }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return pkgDir;
}
