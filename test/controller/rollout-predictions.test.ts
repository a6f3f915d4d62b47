// The class's predictions stored beside each profile and shown: rollout status
// (API, `--json`, text) and the dashboard's rollout view, against a real
// controller, its SQLite store and Chromium.
import { readFileSync } from 'node:fs';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { printStatus } from '../../cli/rollout.js';
import { validateSpec } from '../../controller/rollout/spec.js';
import type { RolloutSummary } from '../../controller/rollout/status.js';
import { TestFleet } from '../agent/fleet.js';
import { builtYolov8n } from '../agent/models.js';
import { runCliApart } from '../helpers/cli.js';
import { chromiumSkipReason, haveChromium, launchChromium, screenshotPath } from './dashboard-browser.js';

const metrics = { fps: 20, p95Ms: 48, memoryMb: 90, tempC: null };
// predicted before the profile, measured mean model latency after: errors +10 % and -20 %, MAPE 15 %
const PROFILED = [
  { candidateId: 'fp32-640', predictedMs: 44, modelMs: 40 },
  { candidateId: 'int8-512', predictedMs: 16, modelMs: 20 },
];

describe(`predictions in rollout status and on the dashboard${haveChromium ? '' : ` (browser part skipped: ${chromiumSkipReason})`}`, () => {
  const fleet = new TestFleet();
  let rolloutId = '';
  let browser: Browser | undefined;

  beforeAll(async () => {
    await fleet.start();
    const store = fleet.controller.rolloutStore;
    // A model with no candidates: the engine fails the rollout's device at once and leaves the measurements alone.
    const model = await fleet.controller.catalog.addModel(readFileSync(builtYolov8n(fleet.scratch, 64)), 'yolov8n-64');
    const r = store.create(validateSpec({ model: model.id, targets: { devices: ['pi-1'] }, slo: { maxP95Ms: 50 } }), [{ deviceId: 'pi-1', deviceClass: 'pi5', stage: 0 }]);
    rolloutId = r.id;
    for (const [i, p] of PROFILED.entries()) {
      store.addMeasurement(r.id, { deviceClass: 'pi5', candidateId: p.candidateId, jobId: `${r.id}:pi5:${p.candidateId}`, deviceId: 'pi-1', sentAt: Date.now() + i, predictedMs: p.predictedMs, predictionMapePct: 12.5 });
      store.setOutcome(`${r.id}:pi5:${p.candidateId}`, { ok: true, metrics, modelMs: p.modelMs });
    }
    // one sent without a predictor, one predicted and still out
    store.addMeasurement(r.id, { deviceClass: 'pi5', candidateId: 'fp32-320', jobId: `${r.id}:pi5:fp32-320`, deviceId: 'pi-1', sentAt: Date.now() + 5 });
    store.setOutcome(`${r.id}:pi5:fp32-320`, { ok: true, metrics });
    store.addMeasurement(r.id, { deviceClass: 'pi5', candidateId: 'int8-416', jobId: `${r.id}:pi5:int8-416`, deviceId: 'pi-1', sentAt: Date.now() + 6, predictedMs: 13, predictionMapePct: 12.5 });
    if (haveChromium) browser = await launchChromium();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await fleet.close();
  }, 60_000);

  it('stores the prediction made before each profile and scores it against the measurement', async () => {
    const run = await runCliApart(['rollout', 'status', rolloutId, '--json', '--data', fleet.dataDir]);
    expect(run.code, run.stderr).toBe(0);
    const status = JSON.parse(run.stdout) as RolloutSummary;
    const p = status.classes[0].predictions;
    // error = (predicted − measured) / measured: (44 − 40) / 40 = +10 %, (16 − 20) / 20 = −20 %
    expect(p.rows).toEqual([
      { candidate: 'fp32-640', ep: 'cpu', predictedMs: 44, measuredMs: 40, errorPct: 10 },
      { candidate: 'int8-512', ep: 'cpu', predictedMs: 16, measuredMs: 20, errorPct: -20 },
      { candidate: 'int8-416', ep: 'cpu', predictedMs: 13, measuredMs: null, errorPct: null },
    ]);
    expect(p.mapePct).toBe(15);
    expect(p.predictorMapePct).toBe(12.5);
    expect(status.classes[0].measurements.find((m) => m.candidate === 'fp32-320')).not.toHaveProperty('predictedMs');

    const out: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => (out.push(String(s)), true));
    try {
      printStatus(status);
    } finally {
      spy.mockRestore();
    }
    const text = out.join('');
    expect(text).toContain('latency predictor: MAPE 15.0 % on 2 profiled candidate(s) (leave-one-out on the class\'s op profiles: 12.5 %)');
    expect(text).toContain('fp32-640 on cpu: predicted 44.0 ms, measured 40.0 ms, error +10.0 %');
    expect(text).toContain('int8-512 on cpu: predicted 16.0 ms, measured 20.0 ms, error -20.0 %');
    expect(text).toContain('int8-416 on cpu: predicted 13.0 ms, not measured yet');
  }, 60_000);

  it.skipIf(!haveChromium)('shows predicted, measured and error per profiled candidate on the rollout view', async () => {
    const page = await browser!.newPage({ viewport: { width: 1600, height: 1000 } });
    await page.goto(`${fleet.controller.httpUrl}/#token=${fleet.controller.adminToken}`);
    await page.goto(`${fleet.controller.httpUrl}/#/rollouts/${encodeURIComponent(rolloutId)}`);
    const row = page.locator('.rollout-predictions[data-class="pi5"] tr[data-candidate="int8-512"]');
    await row.waitFor({ timeout: 20_000 });
    expect(await row.locator('.predicted').textContent()).toBe('16.0');
    expect(await row.locator('.measured').textContent()).toBe('20.0');
    expect(await row.locator('.error-pct').textContent()).toBe('-20.0 %');
    expect(await page.locator('.rollout-predictions[data-class="pi5"] caption').textContent()).toBe('pi5: MAPE 15.0 % (leave-one-out 12.5 %)');
    await page.screenshot({ path: screenshotPath('rollout-predictions'), fullPage: true });
    await page.close();
  }, 60_000);
});
