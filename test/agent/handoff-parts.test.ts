// The parts of hand-off mode on their own: the health verdict on the
// application's reports (expected values from its definition), the hand-over
// of files in a real folder, and the --on-deploy hook through a real shell.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { judgeAppReports } from '../../agent/handoff/app-health.js';
import type { ModelDescriptor } from '../../agent/handoff/descriptor.js';
import { handOver } from '../../agent/handoff/files.js';
import { runHook, type HookEnv } from '../../agent/handoff/hook.js';
import { appTelemetry, type ReceivedReport } from '../../agent/local-api/app-reports.js';
import { decodeFor, encodeFor } from '../../protocol/channels.js';
import type { Telemetry } from '../../protocol/messages.js';
import { captureLogger } from '../helpers/log.js';

const mine = 'a'.repeat(64);
const other = 'b'.repeat(64);
const report = (fps: number, sha256?: string): ReceivedReport => ({ fps, at: 0, ...(sha256 ? { sha256 } : {}) });
const judge = (reports: ReceivedReport[], windowOver: boolean) => judgeAppReports(reports, { sha256: mine, minFps: 5, windowS: 8, windowOver });

describe('the hand-off health verdict', () => {
  it('is healthy at the first report on this model at the floor or above, even before the window ends', () => {
    expect(judge([report(5, mine)], false)).toEqual({ state: 'healthy' });
    // a report that names no model counts for the one handed over
    expect(judge([report(2), report(9)], false)).toEqual({ state: 'healthy' });
  });

  it('waits while the window lasts, then names why not', () => {
    expect(judge([], false)).toEqual({ state: 'waiting' });
    expect(judge([report(4.9, mine)], false)).toEqual({ state: 'waiting' });
    expect(judge([], true)).toEqual({ state: 'unhealthy', reason: 'the application sent no report on this model within 8 s of the hand-over' });
    expect(judge([report(3, mine), report(4.9, mine)], true)).toEqual({ state: 'unhealthy', reason: 'the application reported 4.9 FPS, below the 5 FPS minimum' });
  });

  it('does not count reports on another model (the application before it reloaded)', () => {
    expect(judge([report(30, other)], false)).toEqual({ state: 'waiting' });
    expect(judge([report(30, other)], true)).toEqual({ state: 'unhealthy', reason: 'the application sent no report on this model within 8 s of the hand-over (1 named another model)' });
  });
});

describe('handing files over', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'edgefit-handoff-parts-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const descriptor = (sha256: string, generation: number) => ({ sha256, generation }) as ModelDescriptor;
  const file = (name: string, text: string) => {
    const p = path.join(dir, name);
    writeFileSync(p, text);
    return p;
  };
  const out = path.join(dir, 'out');

  it('puts the model at current.onnx, keeps the one it replaces, and leaves no temporary file', async () => {
    expect(await handOver(out, file('m1', 'model one'), descriptor(mine, 1))).toBeNull();
    expect(readFileSync(path.join(out, 'current.onnx'), 'utf8')).toBe('model one');
    expect(await handOver(out, file('m2', 'model two'), descriptor(other, 2))).toBe(path.join(out, 'previous.onnx'));
    expect(readFileSync(path.join(out, 'current.onnx'), 'utf8')).toBe('model two');
    expect(readFileSync(path.join(out, 'previous.onnx'), 'utf8')).toBe('model one');
    expect(JSON.parse(readFileSync(path.join(out, 'previous.json'), 'utf8'))).toEqual({ sha256: mine, generation: 1 });
    expect(JSON.parse(readFileSync(path.join(out, 'current.json'), 'utf8'))).toEqual({ sha256: other, generation: 2 });
    expect(readdirSync(out).sort()).toEqual(['current.json', 'current.onnx', 'previous.json', 'previous.onnx']);
  });

  it('handing the same model over again keeps the previous one (an agent restart re-applies its state)', async () => {
    await handOver(out, file('m2', 'model two'), descriptor(other, 3));
    expect(readFileSync(path.join(out, 'previous.onnx'), 'utf8')).toBe('model one');
    expect(JSON.parse(readFileSync(path.join(out, 'current.json'), 'utf8')).generation).toBe(3);
  });

  it('a hard-linked previous model keeps its bytes when current.onnx is replaced', async () => {
    await handOver(out, file('m3', 'model three'), descriptor('c'.repeat(64), 4));
    expect(readFileSync(path.join(out, 'previous.onnx'), 'utf8')).toBe('model two');
    expect(readFileSync(path.join(out, 'current.onnx'), 'utf8')).toBe('model three');
  });
});

describe('the --on-deploy hook', () => {
  const env: HookEnv = { EDGEFIT_MODEL: '/m/current.onnx', EDGEFIT_MODEL_JSON: '/m/current.json', EDGEFIT_CANDIDATE: 'n160', EDGEFIT_SHA256: mine, EDGEFIT_GENERATION: '7', EDGEFIT_PREVIOUS_MODEL: '' };

  it('runs through the shell with the hand-over in its environment, its output logged line by line', async () => {
    const capture = captureLogger();
    await runHook('echo "$EDGEFIT_MODEL $EDGEFIT_GENERATION [$EDGEFIT_PREVIOUS_MODEL]"; echo second >&2', env, 10, capture.log);
    const lines = capture.lines().map((l) => l.msg);
    expect(lines).toContain('on-deploy: /m/current.onnx 7 []');
    expect(lines).toContain('on-deploy: second');
  });

  it('fails with its exit status and last line', async () => {
    await expect(runHook('echo restarting; echo "service not found" >&2; exit 3', env, 10, captureLogger().log)).rejects.toThrow('the on-deploy command exited with 3: service not found');
  });

  it('is done when the command exits, though the application it started in the background holds its output', async () => {
    const pidFile = path.join(os.tmpdir(), `edgefit-hook-bg-${process.pid}`);
    const capture = captureLogger();
    const started = Date.now();
    await runHook(`echo restarting; sleep 30 & echo $! > ${pidFile}`, env, 10, capture.log);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(capture.lines().map((l) => l.msg)).toContain('on-deploy: restarting');
    // the application lives on: it is the user's, not the hook's
    const app = Number(readFileSync(pidFile, 'utf8'));
    rmSync(pidFile);
    expect(readFileSync(`/proc/${app}/stat`, 'utf8').split(') ')[1][0]).not.toBe('Z');
    process.kill(app, 'SIGKILL');
  });

  it('fails at the timeout and kills what it started', async () => {
    const pidFile = path.join(os.tmpdir(), `edgefit-hook-${process.pid}`);
    const started = Date.now();
    await expect(runHook(`sleep 30 & echo $! > ${pidFile}; wait`, env, 1, captureLogger().log)).rejects.toThrow('the on-deploy command did not finish within 1 s');
    expect(Date.now() - started).toBeLessThan(10_000);
    // the shell's child went with it: the hook leads its own process group
    const sleeper = Number(readFileSync(pidFile, 'utf8'));
    rmSync(pidFile);
    await new Promise((r) => setTimeout(r, 200));
    // gone, or a zombie waiting for a reaper (a container's PID 1 may never reap it): not running either way
    const state = (() => {
      try {
        return readFileSync(`/proc/${sleeper}/stat`, 'utf8').split(') ')[1][0];
      } catch {
        return 'gone';
      }
    })();
    expect(['gone', 'Z']).toContain(state);
  });
});

describe("telemetry's app field", () => {
  it('carries the latest report with its age, through the telemetry channel', () => {
    const app = appTelemetry({ fps: 24.5, p95Ms: 41, at: 10_000 }, 12_340);
    // 2.34 s old, to a tenth
    expect(app).toEqual({ fps: 24.5, p95Ms: 41, frames: null, ageS: 2.3 });
    expect(appTelemetry(null)).toBeUndefined();
    const telemetry: Telemetry = { v: 1, ts: 1, fps: 24.5, latencyP50Ms: null, latencyP95Ms: 41, memoryMb: 3, temperatureC: null, throttled: null, modelSha256: mine, errors: 0, app };
    expect(decodeFor('telemetry', encodeFor('telemetry', telemetry))).toEqual({ ok: true, value: telemetry });
    const bad = decodeFor('telemetry', Buffer.from(JSON.stringify({ ...telemetry, app: { ...app, fps: -1 } })));
    expect(bad.ok).toBe(false);
  });
});
