// Execution providers on a real agent: a local onnxruntime-node build loaded
// through --onnxruntime (a copy of the packaged one, marked so its loads can be
// counted), a job and a desired state naming a provider this machine lacks.
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { createRequire } from 'node:module';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ArtifactRef } from '../../protocol/artifacts.js';
import type { Inventory } from '../../protocol/messages.js';
import { expectUsage, runCliApart, type CliProcess } from '../helpers/cli.js';
import { waitFor } from '../helpers/wait.js';
import { TestFleet } from './fleet.js';
import { builtYolov8n } from './models.js';

const require = createRequire(import.meta.url);
/** The packaged onnxruntime-node folder (its package.json is not exported, its entry is dist/index.js). */
const packaged = path.resolve(path.dirname(require.resolve('onnxruntime-node')), '..');
const common = path.resolve(path.dirname(require.resolve('onnxruntime-common')), '..', '..');

/**
 * A 'local build' of the same version: the packaged package copied to a folder
 * of its own, with its dependency beside it as `npm install` leaves a built
 * js/node. It reports version 1.30.0-local and writes the pid of every process
 * that loads it to `mark`, so a test sees which processes run it.
 */
function localBuild(dir: string, mark: string): string {
  const pkg = path.join(dir, 'node_modules', 'onnxruntime-node');
  const bin = path.join('bin', 'napi-v6', process.platform, process.arch);
  mkdirSync(path.join(pkg, bin), { recursive: true });
  for (const part of ['package.json', 'dist', bin]) cpSync(path.join(packaged, part), path.join(pkg, part), { recursive: true });
  symlinkSync(realpathSync(common), path.join(dir, 'node_modules', 'onnxruntime-common'));
  const version = path.join(pkg, 'dist', 'version.js');
  const text = readFileSync(version, 'utf8');
  const local = text.replace(/exports\.version = '([^']+)'/, "exports.version = '$1-local'");
  if (local === text) throw new Error(`${version}: no version line to mark`);
  writeFileSync(version, `${local}\nrequire('node:fs').appendFileSync(${JSON.stringify(mark)}, process.pid + '\\n');\n`);
  return pkg;
}

describe('execution providers on a real agent', () => {
  const fleet = new TestFleet();
  let agent: CliProcess;
  let model: ArtifactRef;
  let local: string;
  let mark: string;

  beforeAll(async () => {
    await fleet.start();
    mark = path.join(fleet.scratch, 'ort-loads.txt');
    local = localBuild(path.join(fleet.scratch, 'ort-local'), mark);
    model = await fleet.controller.artifacts.put(builtYolov8n(fleet.scratch, 64), { name: 'yolov8n-64.onnx' });
    agent = fleet.agent('jet-1', 2, { args: ['--onnxruntime', local] });
    await waitFor(() => fleet.controller.registry.get('jet-1')?.online, 20_000, 'jet-1 online').catch((err: Error) => {
      throw new Error(`${err.message}; agent output: ${agent.output().slice(-2000)}`);
    });
  });

  afterAll(() => fleet.close());

  const inventory = () => fleet.controller.registry.get('jet-1')!.inventory as Inventory;
  const cached = () => path.join(fleet.stateDir('jet-1'), 'artifacts', `${model.sha256}.onnx`);

  it('loads the local onnxruntime-node build named by --onnxruntime, and the inventory says which', () => {
    expect(inventory().onnxruntimeBinding).toEqual({ source: 'local', path: local, version: '1.30.0-local' });
    expect(inventory().onnxruntimeVersion).toBe('1.30.0-local');
    expect(inventory().executionProviders).toContain('cpu');
    expect(inventory().accelerators).toEqual(expect.any(Array));
    expect(readFileSync(mark, 'utf8').trim().split('\n')).toEqual([String(agent.child.pid)]);
  });

  it('fails a job naming a provider the device lacks within 5 s, listing the ones it has', async () => {
    const sent = Date.now();
    await fleet.controller.sendJob('jet-1', { jobId: 'trt-1', kind: 'profile', artifact: model, options: { runs: 5, ep: 'tensorrt', providerOptions: { trtFp16: true } } });
    const result = await waitFor(() => fleet.controller.profiles.get('trt-1'), 5000, 'the failed result');
    expect(Date.now() - sent).toBeLessThan(5000);
    expect(result.ok).toBe(false);
    expect(result.error).toBe(`execution provider 'tensorrt' is not available on this device (it has: ${inventory().executionProviders.join(', ')})`);
    // refused before any download: the model never reached the agent's cache
    expect(existsSync(cached())).toBe(false);
  });

  it('profiles on cpu in a child that loads the same local build', async () => {
    await fleet.controller.sendJob('jet-1', { jobId: 'cpu-1', kind: 'profile', artifact: model, options: { runs: 3, warmup: 1 } });
    const result = await waitFor(() => fleet.controller.profiles.get('cpu-1'), 60_000, 'the cpu result');
    expect(result.ok, result.error ?? '').toBe(true);
    expect(result.profile!.ep).toBe('cpu');
    expect(existsSync(cached())).toBe(true);
    const pids = readFileSync(mark, 'utf8').trim().split('\n');
    expect(pids[0]).toBe(String(agent.child.pid));
    expect(pids.length).toBe(2);
  });

  it('reports a desired state naming a missing provider as failed with the reason, then serves one on cpu and says so', async () => {
    await fleet.controller.setDesired('jet-1', { model, candidateId: 'n64', ep: 'tensorrt' });
    const failed = await waitFor(() => {
      const r = fleet.controller.live.get('jet-1').reported;
      return r?.generation === 1 ? r : undefined;
    }, 10_000, 'the failed state');
    expect(failed.state).toBe('failed');
    expect(failed.error).toMatch(/^execution provider 'tensorrt' is not available on this device \(it has: cpu/);
    expect(failed.activeModel).toBeNull();

    await fleet.controller.setDesired('jet-1', { model, candidateId: 'n64', ep: 'cpu' });
    await waitFor(() => fleet.controller.live.get('jet-1').reported?.state === 'healthy', 30_000, 'healthy on cpu');
    expect(fleet.controller.live.get('jet-1').reported!.activeModel).toMatchObject({ sha256: model.sha256, ep: 'cpu' });
    expect(agent.child.exitCode).toBeNull();
  }, 60_000);
});

describe('--onnxruntime and EDGEFIT_ONNXRUNTIME at start', () => {
  it('stop the start with one line when the folder is not an onnxruntime-node package', async () => {
    const agent = await runCliApart(['agent', '--broker', 'mqtt://127.0.0.1:1', '--id', 'x', '--token', 't', '--onnxruntime', '/nonexistent/ort'], { limitMs: 20_000 });
    expect(agent.code).toBe(1);
    expect(agent.stderr.trim()).toBe('edgefit agent: --onnxruntime /nonexistent/ort: no such folder');
    const profile = await runCliApart(['profile', 'model.onnx'], { env: { EDGEFIT_ONNXRUNTIME: path.dirname(packaged) }, limitMs: 20_000 });
    expect(profile.code).toBe(1);
    expect(profile.stderr.trim()).toBe(`edgefit profile: EDGEFIT_ONNXRUNTIME ${path.dirname(packaged)} is not an onnxruntime-node package (no package.json)`);
  });

  it('stop it with one line when the package is there but its native binding is not (a build not finished)', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'edgefit-ort-unbuilt-'));
    try {
      cpSync(path.join(packaged, 'package.json'), path.join(dir, 'package.json'));
      cpSync(path.join(packaged, 'dist'), path.join(dir, 'dist'), { recursive: true });
      const r = await runCliApart(['profile', 'model.onnx', '--onnxruntime', dir], { limitMs: 20_000 });
      expect(r.code).toBe(1);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(new RegExp(`^edgefit profile: --onnxruntime ${dir} does not load: `));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('provider flags of edgefit profile', () => {
  it('refuses provider options the chosen provider would ignore, and a device id out of range', async () => {
    expectUsage(await runCliApart(['profile', 'm.onnx', '--trt-fp16']), /^edgefit profile: --trt-fp16 needs --ep tensorrt \(got --ep cpu\)$/m);
    expectUsage(await runCliApart(['profile', 'm.onnx', '--ep', 'cuda', '--trt-int8']), /--trt-int8 needs --ep tensorrt \(got --ep cuda\)/);
    expectUsage(await runCliApart(['profile', 'm.onnx', '--device-id', '1']), /--device-id needs --ep cuda or tensorrt/);
    expectUsage(await runCliApart(['profile', 'm.onnx', '--ep', 'tensorrt', '--device-id', '16']), /--device-id must be an integer in \[0, 15\], got '16'/);
  });

  it('shows them in --help, and --onnxruntime on the agent too', async () => {
    const profile = await runCliApart(['profile', '--help']);
    for (const flag of ['--trt-fp16', '--trt-int8', '--device-id N', '--onnxruntime PATH']) expect(profile.stdout).toContain(flag);
    expect((await runCliApart(['agent', '--help'])).stdout).toContain('--onnxruntime PATH');
  });

  it('fails a profile on a provider this onnxruntime build lacks with the reason', async () => {
    const r = await runCliApart(['profile', path.join(packaged, 'package.json'), '--ep', 'tensorrt', '--trt-fp16', '--json']);
    expect(r.code).toBe(1);
    expect((JSON.parse(r.stdout) as { error: string }).error).toMatch(/^execution provider 'tensorrt' is not in this onnxruntime build \(it has: cpu/);
  });
});
