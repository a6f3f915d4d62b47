// Hand-off mode end to end: a real controller (embedded broker), the real
// agent from dist with --handoff and --on-deploy, and a real application
// (handoff-app.mjs, onnxruntime-node) that reloads current.onnx when the hook
// signals it and posts its FPS to the agent's local API; the dashboard in real
// Chromium shows that FPS.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ArtifactRef } from '../../protocol/artifacts.js';
import type { Reported, Telemetry } from '../../protocol/messages.js';
import { chromiumSkipReason, haveChromium, launchChromium, screenshotPath } from '../controller/dashboard-browser.js';
import type { CliProcess } from '../helpers/cli.js';
import { freePort } from '../helpers/free-port.js';
import { waitFor } from '../helpers/wait.js';
import { agentLogs, TestFleet } from './fleet.js';
import { builtYolov8n } from './models.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const ortEntry = createRequire(import.meta.url).resolve('onnxruntime-node');
/** The agent's health window in this suite: long enough for the application to reload on a busy 2-core machine. */
const WINDOW_S = 8;

describe('hand-off mode: the agent hands models to the application and watches its FPS', () => {
  const fleet = new TestFleet();
  let dir: string;
  let hookLog: string;
  let port: number;
  let app: ChildProcess;
  let agentProcess: CliProcess;
  let appOut = '';
  let a: ArtifactRef;
  let b: ArtifactRef;
  let aBytes: Buffer;
  let bBytes: Buffer;
  const reported: Reported[] = [];
  let telemetry: Telemetry | null = null;
  const agent = () => fleet.controller.live.get('hand-1');

  beforeAll(async () => {
    await fleet.start();
    const aFile = builtYolov8n(fleet.scratch, 160, 0);
    const bFile = builtYolov8n(fleet.scratch, 160, 1);
    [aBytes, bBytes] = [readFileSync(aFile), readFileSync(bFile)];
    a = await fleet.controller.artifacts.put(aFile, { name: 'a.onnx' });
    b = await fleet.controller.artifacts.put(bFile, { name: 'b.onnx' });
    fleet.controller.live.onChange((id, s) => {
      if (id !== 'hand-1') return;
      if (s.reported && s.reported !== reported.at(-1)) reported.push(s.reported);
      if (s.telemetry) telemetry = s.telemetry;
    });
    dir = path.join(fleet.scratch, 'app-models');
    mkdirSync(dir);
    hookLog = path.join(fleet.scratch, 'hook.log');
    // The hook a user would write: note what was handed over, then tell the application to reload.
    const hook = path.join(fleet.scratch, 'on-deploy.sh');
    writeFileSync(
      hook,
      `#!/bin/sh\necho "generation=$EDGEFIT_GENERATION candidate=$EDGEFIT_CANDIDATE sha256=$EDGEFIT_SHA256 model=$EDGEFIT_MODEL json=$EDGEFIT_MODEL_JSON previous=$EDGEFIT_PREVIOUS_MODEL" >> ${hookLog}\n` +
        `echo "reloading the application"\nkill -USR1 "$(cat ${dir}/app.pid)"\n`,
      { mode: 0o755 },
    );
    port = await freePort();
    agentProcess = fleet.agent('hand-1', 10, { args: ['--handoff', dir, '--on-deploy', hook, '--on-deploy-timeout', '20', '--local-port', String(port), '--health-window', String(WINDOW_S)] });
    await waitFor(() => fleet.controller.registry.get('hand-1')?.online, 30_000, 'hand-1 online');
    app = spawn(process.execPath, [path.join(here, 'handoff-app.mjs'), dir, String(port), ortEntry], { stdio: ['ignore', 'pipe', 'pipe'] });
    app.stdout!.on('data', (d: Buffer) => (appOut += d.toString()));
    app.stderr!.on('data', (d: Buffer) => (appOut += d.toString()));
    await waitFor(() => existsSync(path.join(dir, 'app.pid')), 20_000, 'the application to start');
  }, 90_000);

  afterAll(async () => {
    app?.kill();
    await fleet.close();
  });

  const hookLines = () => (existsSync(hookLog) ? readFileSync(hookLog, 'utf8').trim().split('\n') : []);
  const whenState = (generation: number, states: Reported['state'][], timeoutMs: number) =>
    waitFor(() => {
      const r = agent().reported;
      return r?.generation === generation && states.includes(r.state) ? r : undefined;
    }, timeoutMs, `generation ${generation} ${states.join(' or ')}`);

  it('hands the first model over as current.onnx with its descriptor, and goes healthy on the application report', async () => {
    await fleet.controller.setDesired('hand-1', { model: a, candidateId: 'n160-a' });
    const r = await whenState(1, ['healthy', 'rolled-back', 'failed'], 60_000);
    expect(r.state, `${r.error ?? ''}\n${appOut}`).toBe('healthy');
    expect(readFileSync(path.join(dir, 'current.onnx')).equals(aBytes)).toBe(true);
    const json = JSON.parse(readFileSync(path.join(dir, 'current.json'), 'utf8'));
    expect(json).toMatchObject({ candidateId: 'n160-a', sha256: a.sha256, generation: 1, input: { width: 160, height: 160 }, executionProvider: 'cpu' });
    expect(Date.parse(json.deployedAt)).toBeGreaterThan(Date.now() - 120_000);
    expect(existsSync(path.join(dir, 'previous.onnx'))).toBe(false);
    expect(hookLines()).toEqual([`generation=1 candidate=n160-a sha256=${a.sha256} model=${dir}/current.onnx json=${dir}/current.json previous=`]);
    // the hook's output is in the agent's log
    expect(agentLogs(agentProcess, 'on-deploy: reloading the application').length).toBe(1);
    const t = await waitFor(() => (telemetry?.app && telemetry.app.fps > 0 && telemetry.modelSha256 === a.sha256 ? telemetry : undefined), 20_000, 'telemetry with the application FPS');
    expect(t.fps).toBe(t.app!.fps);
    expect(t.app!.ageS).toBeLessThan(5);
  }, 90_000);

  it.skipIf(!haveChromium)(`shows the application's FPS on the dashboard (${haveChromium ? 'Chromium' : chromiumSkipReason})`, async () => {
    const browser = await launchChromium();
    try {
      const page = await browser.newPage({ viewport: { width: 1600, height: 600 } });
      await page.goto(`${fleet.controller.httpUrl}/#token=${fleet.controller.adminToken}`);
      await page.locator('#conn[data-state="live"]').waitFor();
      const cell = page.locator('.grid-row[data-id="hand-1"] .cell[data-key="appFps"]');
      const text = await waitFor(async () => {
        const s = (await cell.textContent()) ?? '';
        return Number(s) > 0 ? s : undefined;
      }, 30_000, 'an App FPS figure for hand-1');
      expect(await page.locator('.cell[role="columnheader"][data-key="appFps"]').textContent()).toBe('App FPS');
      expect(Number(text)).toBeGreaterThan(0);
      await page.screenshot({ path: screenshotPath('handoff-app-fps') });
      // the device view repeats it (the table hides the column below 1440 px)
      await page.click('.grid-row[data-id="hand-1"]');
      const stat = page.locator('.device[data-device="hand-1"] .stat', { hasText: 'App FPS' }).locator('.stat-value');
      await waitFor(async () => Number((await stat.textContent()) ?? '') > 0, 20_000, 'App FPS in the device view');
      await page.screenshot({ path: screenshotPath('handoff-device') });
    } finally {
      await browser.close();
    }
  }, 60_000);

  it('runs the hook again for a second rollout, with the first model kept as the previous one', async () => {
    await fleet.controller.setDesired('hand-1', { model: b, candidateId: 'n160-b' });
    const r = await whenState(2, ['healthy', 'rolled-back', 'failed'], 60_000);
    expect(r.state, `${r.error ?? ''}\n${appOut}`).toBe('healthy');
    expect(readFileSync(path.join(dir, 'current.onnx')).equals(bBytes)).toBe(true);
    expect(readFileSync(path.join(dir, 'previous.onnx')).equals(aBytes)).toBe(true);
    expect(JSON.parse(readFileSync(path.join(dir, 'previous.json'), 'utf8'))).toMatchObject({ sha256: a.sha256, generation: 1 });
    expect(hookLines()).toEqual([
      `generation=1 candidate=n160-a sha256=${a.sha256} model=${dir}/current.onnx json=${dir}/current.json previous=`,
      `generation=2 candidate=n160-b sha256=${b.sha256} model=${dir}/current.onnx json=${dir}/current.json previous=${dir}/previous.onnx`,
    ]);
    expect(appOut).toContain(`loaded generation 2 ${b.sha256}`);
  }, 90_000);

  it('rolls back within the health window when the application stops reporting: the previous bytes return to current.onnx', async () => {
    writeFileSync(path.join(dir, 'app.pause'), '');
    await fleet.controller.setDesired('hand-1', { model: a, candidateId: 'n160-a' });
    await whenState(3, ['health-check'], 60_000);
    const checkFrom = Date.now();
    const r = await whenState(3, ['healthy', 'rolled-back', 'failed'], (WINDOW_S + 30) * 1000);
    const tookS = (Date.now() - checkFrom) / 1000;
    expect(r.state).toBe('rolled-back');
    expect(r.error).toMatch(/health check failed: the application sent no report on this model within 8 s of the hand-over/);
    // the window, plus the hand-back (a copy and the hook) and a broker hop
    expect(tookS).toBeLessThan(WINDOW_S + 5);
    expect(r.activeModel).toMatchObject({ sha256: b.sha256, generation: 2, candidateId: 'n160-b' });
    expect(readFileSync(path.join(dir, 'current.onnx')).equals(bBytes)).toBe(true);
    expect(JSON.parse(readFileSync(path.join(dir, 'current.json'), 'utf8'))).toMatchObject({ sha256: b.sha256, generation: 2 });
    // the hook ran for the new model, then again for the one handed back
    expect(hookLines().slice(2).map((l) => l.split(' ').slice(0, 3).join(' '))).toEqual([`generation=3 candidate=n160-a sha256=${a.sha256}`, `generation=2 candidate=n160-b sha256=${b.sha256}`]);
  }, 120_000);

  it('answers bad application reports with 400 and one line, oversize with 413, and keeps running', async () => {
    const post = (body: string, type = 'application/json') => fetch(`http://127.0.0.1:${port}/v1/app-report`, { method: 'POST', headers: { 'content-type': type }, body });
    for (const [body, line] of [
      ['{"fps": -1}', /^fps: .*>=0/],
      ['{"fps": "fast"}', /^fps: .*expected number/],
      ['{"p95Ms": 3}', /^fps: .*expected number, received undefined/],
      ['{"fps": 3, "fpss": 4}', /Unrecognized key/],
      ['{"fps": 3, "sha256": "abc"}', /^sha256: sha256 must be 64 lowercase hex digits/],
      ['{"fps": ', /JSON/],
    ] as const) {
      const res = await post(body);
      expect(res.status, body).toBe(400);
      const answer = (await res.json()) as { error: string };
      expect(answer.error, body).toMatch(line);
      expect(answer.error).not.toContain('\n');
      console.log(`${body} → ${res.status} ${answer.error}`);
    }
    const big = await post(JSON.stringify({ fps: 1, pad: 'x'.repeat(10_000) }));
    expect(big.status).toBe(413);
    expect(((await big.json()) as { error: string }).error).not.toContain('\n');
    expect((await fetch(`http://127.0.0.1:${port}/v1/nothing`)).status).toBe(404);
    expect(agentProcess.child.exitCode).toBeNull();
    expect((await post('{"fps": 12.5, "p95Ms": 80, "frames": 1000}')).status).toBe(204);
    await waitFor(() => (telemetry?.app?.fps === 12.5 && telemetry.app.p95Ms === 80 && telemetry.app.frames === 1000 ? true : undefined), 10_000, 'the report in telemetry');
  }, 60_000);
});
