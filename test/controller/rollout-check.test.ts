// The on-device check end to end: a controller with its embedded broker, a
// real agent, and a ladder that holds a candidate broken everywhere (the
// qlinear fixture: runs, right shapes, every class score 0) imported as the
// most accurate one. The check must mark it broken, so it is never deployed,
// and say why in `rollout status --json` and on the dashboard.
import { readFileSync } from 'node:fs';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RolloutSummary } from '../../controller/rollout/status.js';
import { TestFleet } from '../agent/fleet.js';
import { fixture, fixturesSkipReason, haveFixtures } from '../fixtures.js';
import { runCliApart } from '../helpers/cli.js';
import { waitFor } from '../helpers/wait.js';
import { chromiumSkipReason, haveChromium, launchChromium, screenshotPath } from './dashboard-browser.js';

const BROKEN = 'yolov8n_int8_qlinear_broken.onnx';
const skip = !haveFixtures ? fixturesSkipReason : !haveChromium ? chromiumSkipReason : '';

describe.skipIf(skip !== '')(`on-device check in a real rollout${skip ? ` (skipped: ${skip})` : ''}`, () => {
  const fleet = new TestFleet();
  let browser: Browser;
  let rolloutId = '';
  let brokenId = '';
  let goodId = '';
  let goodSha = '';

  async function api<T>(method: string, p: string, body?: unknown, type = 'application/json'): Promise<{ status: number; body: T }> {
    const res = await fetch(fleet.controller.httpUrl + p, {
      method,
      headers: { authorization: `Bearer ${fleet.controller.adminToken}`, ...(body === undefined ? {} : { 'content-type': type }) },
      body: body === undefined ? undefined : body instanceof Uint8Array ? new Blob([body as Uint8Array<ArrayBuffer>]) : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
  }

  beforeAll(async () => {
    browser = await launchChromium();
    await fleet.start();
    fleet.agent('jetson-1');
    // The trained yolov8n (QDQ export) as the base; its eval images become the reference frames.
    const added = await api<{ model: { id: string }; job: { id: string } }>('POST', `/api/models?name=yolov8n&ladder=quick&sizes=320&eval=${encodeURIComponent(fixture('coco8', 'images', 'val'))}`, Uint8Array.from(readFileSync(fixture('models', 'yolov8n_int8_qdq.onnx'))), 'application/octet-stream');
    expect(added.status).toBe(202);
    expect((await fleet.controller.ladders.wait(added.body.job.id)).state).toBe('done');
    const imported = await api<{ id: string }>('POST', `/api/models/${added.body.model.id}/candidates?method=qlinear-int8&declaredMap5095=1&name=qlinear-broken`, Uint8Array.from(readFileSync(fixture('models', BROKEN))), 'application/octet-stream');
    expect(imported.status).toBe(201);
    brokenId = imported.body.id;
    const good = fleet.controller.catalog.candidates(added.body.model.id).find((c) => c.name === 'fp32-320')!;
    goodId = good.id;
    goodSha = good.sha256;
    await waitFor(() => fleet.controller.registry.get('jetson-1')?.online && fleet.controller.registry.get('jetson-1')?.deviceClass, 20_000, 'jetson-1 online');
    // Declared 1.0, so it ranks first; an SLO of 0.2 FPS that it meets: without the check it would be chosen.
    const created = await api<{ id: string; message?: string }>('POST', '/api/rollouts', {
      name: 'check-broken',
      model: added.body.model.id,
      candidates: [brokenId, goodId],
      targets: { devices: ['jetson-1'] },
      slo: { minFps: 0.2 },
      profile: { durationS: 0.5, warmup: 1 },
      check: { threshold: 0.9 },
      deviceTimeoutS: 300,
    });
    expect(created.status, created.body.message).toBe(201);
    rolloutId = created.body.id;
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
    await fleet.close();
  }, 60_000);

  it('marks the broken candidate broken on the class, deploys the next one, and says why in rollout status --json', async () => {
    await waitFor(async () => (await api<RolloutSummary>('GET', `/api/rollouts/${rolloutId}`)).body.devices[0]?.state === 'healthy', 240_000, 'jetson-1 healthy', 500);
    const run = await runCliApart(['rollout', 'status', rolloutId, '--json', '--data', fleet.dataDir]);
    expect(run.code, run.stderr).toBe(0);
    const status = JSON.parse(run.stdout) as RolloutSummary;
    const device = status.devices[0];
    expect(device.candidateId).toBe(goodId);
    expect(device.rejected).toEqual([expect.objectContaining({ name: 'qlinear-broken', basis: 'failed', reasons: [expect.stringContaining('on-device check: finds 0 objects')] })]);
    const ms = status.classes[0].measurements;
    const broken = ms.find((m) => m.candidate === 'qlinear-broken')!;
    const good = ms.find((m) => m.candidate === 'fp32-320')!;
    // Every class score is 0 on the device and on the controller alike: it agrees with itself, so the base model decides.
    expect(broken.outcome).toMatchObject({ ok: false, error: expect.stringMatching(/^on-device check: finds 0 objects on 4 reference frames where the base model finds \d+/) });
    expect(broken.outcome!.check).toMatchObject({ ok: false, fidelity: null, frames: 4, threshold: 0.9 });
    // The same candidate on the same onnxruntime CPU provider: the device reproduces the controller.
    expect(good.outcome).toMatchObject({ ok: true, check: { ok: true, frames: 4 } });
    expect(good.outcome!.check!.fidelity!).toBeGreaterThanOrEqual(0.9);
    for (const m of [broken, good]) {
      expect(m.outcome!.check!.deviceMs).toBeGreaterThan(0);
      expect(m.outcome!.check!.controllerMs).toBeGreaterThan(0);
    }
    console.log(`check cost per profile: ${ms.map((m) => `${m.candidate} device ${m.outcome!.check!.deviceMs} ms, controller ${m.outcome!.check!.controllerMs} ms, fidelity ${m.outcome!.check!.fidelity}`).join('; ')}`);
    // Never deployed: the only desired state the device got is the good candidate's.
    expect(fleet.controller.live.get('jetson-1').reported?.activeModel?.sha256).toBe(goodSha);
    expect(fleet.controller.profiles.forDevice('jetson-1').map((p) => p.candidateId).sort()).toEqual([brokenId, goodId].sort());
  }, 300_000);

  it('shows the broken candidate and the reason on the dashboard', async () => {
    const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
    await page.goto(`${fleet.controller.httpUrl}/#token=${fleet.controller.adminToken}`);
    await page.goto(`${fleet.controller.httpUrl}/#/rollouts/${encodeURIComponent(rolloutId)}`);
    const row = page.locator('.rollout-checks tr[data-candidate="qlinear-broken"]');
    await row.waitFor({ timeout: 20_000 });
    expect(await row.getAttribute('data-check')).toBe('broken');
    expect(await row.textContent()).toMatch(/broken on this class.*on-device check: finds 0 objects on 4 reference frames where the base model finds \d+/);
    expect(await page.locator('.rollout-checks tr[data-candidate="fp32-320"]').getAttribute('data-check')).toBe('passed');
    await page.screenshot({ path: screenshotPath('rollout-check'), fullPage: true });
    await page.close();
  }, 60_000);
});
