import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Letterboxer } from '../../compress/detect/letterbox.js';
import { latencyStats, percentile, windowFps } from '../../agent/profile/stats.js';
import { syntheticFrame } from '../../agent/serve/frames.js';
import type { ProfileReport } from '../../protocol/messages.js';
import { expandSustained } from '../../cli/profile.js';
import { GLIBC_TUNABLES, withMallocTunables } from '../../agent/profile/malloc-tunables.js';
import { haveFixtures } from '../fixtures.js';
import { runCli } from '../helpers/cli.js';
import { builtYolov8n, fixtureFloatYolov8n, garbageModel, impossibleReshapeModel } from './models.js';

const THREADS = Math.min(2, os.cpus().length);
const PLAIN_LOOP = fileURLToPath(new URL('./plain-loop.mjs', import.meta.url));
const ORT_ENTRY = createRequire(import.meta.url).resolve('onnxruntime-node');

type ProfileJson = { ok: true; profile: ProfileReport } | { ok: false; error: string };

async function profile(args: string[]): Promise<{ code: number | null; json: ProfileJson; output: string }> {
  const { code, output } = await runCli(['profile', ...args, '--json']);
  const start = output.indexOf('{\n');
  return { code, json: JSON.parse(output.slice(start, output.lastIndexOf('}') + 1)) as ProfileJson, output };
}

describe('latency statistics', () => {
  it('interpolates percentiles like numpy and summarises a sample', () => {
    const xs = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    expect(percentile(xs, 50)).toBe(5.5);
    expect(percentile(xs, 90)).toBeCloseTo(9.1, 10);
    expect(percentile([4], 99)).toBe(4);
    const s = latencyStats([10, 30, 20, 40]);
    expect(s).toMatchObject({ n: 4, minMs: 10, maxMs: 40, meanMs: 25, p50Ms: 25 });
    expect(s.stdMs).toBeCloseTo(Math.sqrt(125), 3);
  });

  it('counts frames per second in a window', () => {
    const done = [100, 200, 300, 1100, 1200];
    expect(windowFps(done, 0, 1000)).toBe(3);
    expect(windowFps(done, 1000, 2000)).toBe(2);
  });
});

describe('edgefit profile', () => {
  let dir: string;
  let model: string;

  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'edgefit-profile-'));
    // The real network when the fixtures are here; a builder-made one of the same architecture otherwise.
    model = haveFixtures ? fixtureFloatYolov8n(dir) : builtYolov8n(dir, 320);
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it(`reports a model p50 within 10% of plain onnxruntime loops in processes of their own (${haveFixtures ? 'float YOLOv8n from the fixture' : 'builder YOLOv8n 320'}, ${THREADS} threads)`, async () => {
    const session = await ort.InferenceSession.create(model, { executionProviders: ['cpu'] });
    const [h, w] = session.inputMetadata[0].isTensor ? (session.inputMetadata[0].shape.slice(2) as number[]) : [0, 0];
    await session.release();
    const { tensor } = new Letterboxer(w, h).run(syntheticFrame(640, 480, 1));
    const input = path.join(dir, 'input.f32');
    writeFileSync(input, Float32Array.from(tensor));
    const runs = haveFixtures ? 20 : 60;
    // The reference is a fresh process too, in the profiling child's environment (its malloc tunables):
    // what is compared is the profiler's own overhead, not a fresh process against a long-lived one.
    // Against the test's own long-lived loop, before the tunables, full runs read 1.11-1.21 (a fresh
    // process faulted its output buffer in every run: agent/profile/malloc-tunables.ts); after them
    // 0.98-1.10, still a process's age apart. served-vs-profiled in serve.test.ts covers that age.
    const env = { ...process.env, [GLIBC_TUNABLES]: withMallocTunables(process.env[GLIBC_TUNABLES]) };
    const plainP50 = (): number => {
      const out = execFileSync(process.execPath, [PLAIN_LOOP, model, input, String(h), String(w), String(THREADS), '5', String(runs), ORT_ENTRY], { env, encoding: 'utf8' });
      return (JSON.parse(out) as { p50Ms: number }).p50Ms;
    };
    // Alternate the two, plain first and last, and judge each profile against the mean of the plain
    // runs on either side of it; the median of those seven ratios is the figure. Other load drifts over
    // the half minute this takes, and a bracketing pair cancels the drift. Best-of-seven per side let
    // one lucky plain run decide: CI read 1.105 (best plain 30.2 ms in round one, best profile 33.3 ms
    // in round two) where these bracketed ratios read 0.96-1.12, median 1.075.
    const plain: number[] = [plainP50()];
    const profiled: number[] = [];
    for (let round = 0; round < 7; round++) {
      const { code, json, output } = await profile([model, '--runs', String(runs), '--warmup', '5', '--threads', String(THREADS)]);
      expect(code, output).toBe(0);
      if (!json.ok) throw new Error(json.error);
      expect(json.profile.model.n).toBe(runs);
      expect(json.profile.threads).toBe(THREADS);
      profiled.push(json.profile.model.p50Ms);
      plain.push(plainP50());
    }
    const ratios = profiled.map((p, i) => p / ((plain[i] + plain[i + 1]) / 2));
    const ratio = percentile([...ratios].sort((a, b) => a - b), 50);
    const shown = `profiled ${profiled.map((x) => x.toFixed(1)).join(', ')} ms; plain ${plain.map((x) => x.toFixed(1)).join(', ')} ms`;
    console.log(`profile p50 / plain p50, median of bracketed rounds: ${ratio.toFixed(3)} (${shown})`);
    expect(ratio, shown).toBeGreaterThan(0.9);
    expect(ratio, shown).toBeLessThan(1.1);
  }, 150_000);

  it('measures session creation, both FPS, memory, CPU, a thread sweep and a sustained phase', async () => {
    const small = builtYolov8n(dir, 128);
    const { code, json, output } = await profile([small, '--runs', '20', '--warmup', '2', '--threads-sweep', '1,2', '--sustained', '1.5']);
    expect(code, output).toBe(0);
    if (!json.ok) throw new Error(json.error);
    const p = json.profile;
    expect(p.sweep!.map((s) => s.threads)).toEqual([1, 2]);
    expect(p.sweep!.some((s) => s.threads === p.threads && s.endToEndFps === p.endToEndFps)).toBe(true);
    expect(p.sessionCreateMs).toBeGreaterThan(0);
    expect(p.model.minMs).toBeLessThanOrEqual(p.model.p50Ms);
    expect(p.model.p50Ms).toBeLessThanOrEqual(p.model.p99Ms);
    expect(p.model.p99Ms).toBeLessThanOrEqual(p.model.maxMs);
    // Both loops ran the asked number of timed calls. Whether end to end is slower than model-only
    // is a timing claim (about 0.1 ms at 128 px, under this VM's jitter), so it is not asserted here.
    expect(p.model.n).toBe(20);
    expect(p.endToEnd.n).toBe(20);
    expect(p.endToEnd.minMs).toBeGreaterThan(0);
    expect(p.endToEndFps).toBeGreaterThan(0);
    expect(p.inputShape).toEqual([1, 3, 128, 128]);
    expect(p.outputShape).toEqual([1, 84, 336]);
    expect(p.memory.peakRssMb).toBeGreaterThanOrEqual(p.memory.rssAfterLoadMb);
    // Natively the runtime reads the resident set; /proc/self/status stands in only where it reads 0 (qemu, see arm64.test.ts).
    expect(p.memory.source).toBe('runtime');
    expect(p.cpuPct).toBeGreaterThan(0);
    expect(p.sustained!.durationS).toBeGreaterThanOrEqual(1.4);
    expect(p.sustained!.firstFps).toBeGreaterThan(0);
    expect(p.sustained!.lastFps).toBeGreaterThan(0);
    expect(p.environment.load1).not.toBeNull();
    expect(p.environment.servingPaused).toBe(false);
    expect(p.modelSha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('turns a garbage file and a model onnxruntime rejects into failed results', async () => {
    const garbage = await profile([garbageModel(dir), '--runs', '5']);
    expect(garbage.code).toBe(1);
    expect(garbage.json.ok).toBe(false);
    if (garbage.json.ok) return;
    expect(garbage.json.error).toMatch(/onnxruntime cannot load the model/);

    const reshape = await profile([impossibleReshapeModel(dir), '--runs', '5']);
    expect(reshape.code).toBe(1);
    if (reshape.json.ok) throw new Error('an impossible Reshape profiled fine');
    expect(reshape.json.error).toMatch(/reshape/i);
  });

  it('kills a run that passes its hard timeout and says so', async () => {
    const small = builtYolov8n(dir, 64);
    const { code, json } = await profile([small, '--duration', '60', '--timeout', '2']);
    expect(code).toBe(1);
    if (json.ok) throw new Error('a 60 s run finished inside a 2 s timeout');
    expect(json.error).toMatch(/timed out after 2 s/);
  });

  it('reads a bare --sustained as the 60 s default', () => {
    expect(expandSustained(['m.onnx', '--sustained'])).toEqual(['m.onnx', '--sustained', '60']);
    expect(expandSustained(['m.onnx', '--sustained', '--json'])).toEqual(['m.onnx', '--sustained', '60', '--json']);
    expect(expandSustained(['m.onnx', '--sustained', '12.5'])).toEqual(['m.onnx', '--sustained', '12.5']);
  });

  it('answers bad flags with exit 2', async () => {
    const both = await runCli(['profile', 'x.onnx', '--threads', '2', '--threads-sweep', '1,2']);
    expect(both.code).toBe(2);
    expect(both.output).toMatch(/--threads or --threads-sweep/);
    const sweep = await runCli(['profile', 'x.onnx', '--threads-sweep', '1,zero']);
    expect(sweep.code).toBe(2);
    const ep = await runCli(['profile', 'x.onnx', '--ep', 'tpu']);
    expect(ep.code).toBe(2);
  });
});
