import { readFileSync } from 'node:fs';
import type { Browser, Page, Request } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ArtifactRef } from '../../protocol/artifacts.js';
import { writeModel } from '../../compress/onnx/write.js';
import { buildYolov8 } from '../../compress/yolo/builder.js';
import { COLUMNS } from '../../controller/dashboard/src/fleet-columns.js';
import { TestFleet } from '../agent/fleet.js';
import { builtYolov8n, impossibleReshapeModel } from '../agent/models.js';
import { waitFor } from '../helpers/wait.js';
import { chromiumSkipReason, haveChromium, launchChromium, screenshotPath } from './dashboard-browser.js';

const fpsCell = (page: Page, id: string) => page.locator(`.grid-row[data-id="${id}"] .cell:nth-child(7)`);

describe.skipIf(!haveChromium)(`dashboard in Chromium against a controller and a serving agent${haveChromium ? '' : ` (skipped: ${chromiumSkipReason})`}`, () => {
  const fleet = new TestFleet();
  let browser: Browser;
  let page: Page;
  let model: ArtifactRef;
  let modelId = '';

  async function createRollout(name: string): Promise<string> {
    const res = await fetch(`${fleet.controller.httpUrl}/api/rollouts`, {
      method: 'POST',
      headers: { authorization: `Bearer ${fleet.controller.adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name, model: modelId, targets: { devices: ['cam-1'] }, slo: { maxP95Ms: 5000 }, profile: { durationS: 0.5, warmup: 1 }, deviceTimeoutS: 120 }),
    });
    const body = (await res.json()) as { id: string; message?: string };
    expect(res.status, body.message).toBe(201);
    return body.id;
  }

  beforeAll(async () => {
    browser = await launchChromium();
    await fleet.start();
    fleet.agent('cam-1');
    fleet.controller.registry.add('pi-attic', { site: 'attic' });
    await waitFor(() => fleet.controller.registry.get('cam-1')?.online && fleet.controller.registry.get('cam-1')?.heartbeat, 20_000, 'cam-1 online');
    fleet.controller.registry.setLabel('cam-1', 'site', 'lab');
    model = await fleet.controller.artifacts.put(builtYolov8n(fleet.scratch, 96), { name: 'yolov8n-96.onnx' });
    await fleet.controller.setDesired('cam-1', { model, candidateId: 'yolov8n-96' });
    page = await browser.newPage({ viewport: { width: 1600, height: 900 } });
  });

  afterAll(async () => {
    await browser?.close();
    await fleet.close();
  });

  it('answers / with the built page and its hashed assets, cached accordingly', async () => {
    const index = await fetch(fleet.controller.httpUrl + '/');
    expect(index.status).toBe(200);
    expect(index.headers.get('content-type')).toMatch(/text\/html/);
    expect(index.headers.get('cache-control')).toBe('no-cache');
    const html = await index.text();
    const script = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    expect(script).toBeDefined();
    const asset = await fetch(fleet.controller.httpUrl + script);
    expect(asset.headers.get('content-type')).toMatch(/javascript/);
    expect(asset.headers.get('cache-control')).toMatch(/immutable/);
    expect((await fetch(fleet.controller.httpUrl + '/assets/../../package.json')).status).toBe(404);
    expect((await fetch(fleet.controller.httpUrl + '/api/events')).status).toBe(401);
  });

  it('asks for the token when there is none or it is wrong', async () => {
    const context = await browser.newContext();
    const anonymous = await context.newPage();
    await anonymous.goto(fleet.controller.httpUrl + '/');
    await anonymous.getByText('Admin token needed').waitFor();
    await anonymous.goto(fleet.controller.httpUrl + '/#token=wrong-token');
    await anonymous.reload();
    await anonymous.getByText('refused').first().waitFor();
    await anonymous.fill('.token-input', fleet.controller.adminToken);
    await anonymous.click('.token-card button');
    await anonymous.locator('.grid-row[data-id="cam-1"]').waitFor();
    await context.close();
  });

  it('shows the fleet and the serving FPS, which changes without a reload', async () => {
    await page.goto(`${fleet.controller.httpUrl}/#token=${fleet.controller.adminToken}`);
    expect(page.url()).not.toContain('token=');
    expect(await page.evaluate(() => sessionStorage.getItem('edgefit.adminToken'))).toBe(fleet.controller.adminToken);
    await page.locator('#conn[data-state="live"]').waitFor();
    await expect(page.locator('.grid-row[data-id="pi-attic"] .cell:first-child').textContent()).resolves.toContain('offline');
    const first = await waitFor(async () => {
      const text = (await fpsCell(page, 'cam-1').textContent()) ?? '';
      return Number(text) > 0 ? text : undefined;
    }, 60_000, 'an FPS figure for cam-1');
    const navigations: string[] = [];
    page.on('framenavigated', (f) => navigations.push(f.url()));
    const second = await waitFor(async () => {
      const text = (await fpsCell(page, 'cam-1').textContent()) ?? '';
      return Number(text) > 0 && text !== first ? text : undefined;
    }, 20_000, 'the FPS figure to change');
    expect(second).not.toBe(first);
    expect(navigations).toEqual([]);
    await expect(page.locator('.grid-row[data-id="cam-1"]').getAttribute('data-health')).resolves.toBe('ok');
    await expect(page.locator('.grid-row[data-id="cam-1"] .cell:nth-child(6)').textContent()).resolves.toBe('yolov8n-96 on cpu');
    // Let the sparkline gather a few points before the picture.
    await page.waitForTimeout(3000);
    await page.screenshot({ path: screenshotPath('fleet') });
  });

  it('fits a laptop window: narrower ones drop what the device view repeats, with head and rows aligned and no sideways scroll', async () => {
    const layout = () =>
      page.evaluate(() => {
        const shown = (row: Element) => [...row.children].filter((c) => getComputedStyle(c).display !== 'none').map((c) => ({ text: c.textContent ?? '', left: Math.round(c.getBoundingClientRect().left) }));
        const viewport = document.querySelector('.viewport')!;
        return { head: shown(document.querySelector('.grid-row.head')!), row: shown(document.querySelector('.grid-row[data-id="cam-1"]')!), sideways: viewport.scrollWidth > viewport.clientWidth };
      });
    const widths: Array<[number, string[]]> = [
      [1600, []],
      [1280, ['Class', 'Labels', 'Last seen', 'App FPS', 'Dropped', 'Actions']],
      [1024, ['Class', 'Labels', 'Last seen', 'App FPS', 'Dropped', 'Actions', 'Last 5 min']],
    ];
    try {
      for (const [width, hidden] of widths) {
        await page.setViewportSize({ width, height: 800 });
        const l = await layout();
        expect(l.head.map((c) => c.text), `${width} px`).toEqual(COLUMNS.map((c) => c.title).filter((t) => !hidden.includes(t)));
        expect(l.row.map((c) => c.left), `${width} px`).toEqual(l.head.map((c) => c.left));
        expect(l.sideways, `${width} px`).toBe(false);
      }
      await page.screenshot({ path: screenshotPath('fleet-1024') });
    } finally {
      await page.setViewportSize({ width: 1600, height: 900 });
    }
  });

  it("shows a rollout's progress move on screen, and pauses, resumes and aborts one from its buttons", async () => {
    const { catalog } = fleet.controller;
    modelId = (await catalog.addModel(writeModel(buildYolov8({ scale: 'n', imgsz: 96, nc: 4 })), 'dash-yolo')).id;
    await catalog.importCandidate(modelId, writeModel(buildYolov8({ scale: 'n', imgsz: 64, nc: 4 })), { method: 'builder', declaredMap5095: 0.21, name: 'n64' });
    await catalog.importCandidate(modelId, writeModel(buildYolov8({ scale: 'n', imgsz: 96, nc: 4, seed: 1 })), { method: 'builder', declaredMap5095: 0.28, name: 'n96' });
    // The most accurate candidate is valid ONNX that onnxruntime cannot run: the policy must pass it over, and say why.
    await catalog.importCandidate(modelId, readFileSync(impossibleReshapeModel(fleet.scratch)), { method: 'broken-export', declaredMap5095: 0.4, name: 'broken' });

    // Rollout views fetch once when opened; every later change must come over the event stream.
    const rolloutGets: string[] = [];
    const onRequest = (request: Request) => {
      if (request.method() === 'GET' && new URL(request.url()).pathname.startsWith('/api/rollouts')) rolloutGets.push(request.url());
    };
    page.on('request', onRequest);
    await page.evaluate(() => (location.hash = '#/rollouts'));
    await page.getByText('No rollouts yet').waitFor();
    expect(rolloutGets).toHaveLength(1);
    const first = await createRollout('fit-cam-1');
    await page.locator(`tr[data-rollout="${first}"] a`).click();
    const cell = page.locator('table.rollout-devices tr[data-device="cam-1"]');
    await cell.waitFor();
    const opened = rolloutGets.length;
    expect(opened).toBe(2);
    const seen: string[] = [];
    await waitFor(async () => {
      const state = await cell.getAttribute('data-state').catch(() => null);
      if (state && seen[seen.length - 1] !== state) seen.push(state);
      return state === 'healthy';
    }, 120_000, 'cam-1 healthy on the rollout page', 100);
    expect(seen.length, `states seen: ${seen.join(' → ')}`).toBeGreaterThan(1);
    await page.locator('.pill[data-state="completed"]').waitFor();
    await expect(page.locator('[data-count="healthy"]').textContent()).resolves.toBe('1');
    await expect(page.locator('[data-count="targeted"]').textContent()).resolves.toBe('1');
    await expect(cell.locator('td').nth(3).textContent()).resolves.toBe('n96 on cpu');
    expect(rolloutGets.slice(opened), 'GETs of the rollout API while the rollout ran').toEqual([]);
    await page.screenshot({ path: screenshotPath('rollout'), fullPage: true });

    const second = await createRollout('paused-then-aborted');
    await page.evaluate((id) => (location.hash = `#/rollouts/${id}`), second);
    await page.locator('.pill[data-state="running"]').waitFor();
    const shown = rolloutGets.length;
    // Paused by someone else (the CLI, another browser): the page hears of it only through the stream.
    await fetch(`${fleet.controller.httpUrl}/api/rollouts/${second}/pause`, { method: 'POST', headers: { authorization: `Bearer ${fleet.controller.adminToken}`, 'content-type': 'application/json' }, body: '{}' });
    await page.locator('.pill[data-state="paused"]').waitFor();
    await page.locator('button[data-action="resume"]:not([disabled])').waitFor();
    expect(rolloutGets.slice(shown), 'GETs of the rollout API after the pause').toEqual([]);
    expect(fleet.controller.rolloutStore.get(second)!.state).toBe('paused');
    await page.click('button[data-action="resume"]:not([disabled])');
    await page.locator('.pill[data-state="running"]').waitFor();
    await page.click('button[data-action="pause"]:not([disabled])');
    await page.locator('.pill[data-state="paused"]').waitFor();
    expect(fleet.controller.rolloutStore.get(second)!.state).toBe('paused');
    await page.click('button[data-action="resume"]:not([disabled])');
    await page.locator('.pill[data-state="running"]').waitFor();
    page.once('dialog', (dialog) => void dialog.accept());
    await page.click('button[data-action="abort"]:not([disabled])');
    await page.locator('.pill[data-state="aborted"]').waitFor();
    expect(fleet.controller.rolloutStore.get(second)!.state).toBe('aborted');
    await expect(page.locator('.banner').textContent()).resolves.toMatch(/Aborted: .+/);
    expect(rolloutGets.slice(shown), 'GETs of the rollout API while paused, resumed and aborted').toEqual([]);
    page.off('request', onRequest);
    await page.screenshot({ path: screenshotPath('rollout-aborted'), fullPage: true });
  }, 180_000);

  it('opens a device with its inventory, live charts and the plot of the candidates it measured, with the verdicts', async () => {
    await page.evaluate(() => (location.hash = '#/'));
    await page.click('.grid-row[data-id="cam-1"]');
    await page.locator('.device[data-device="cam-1"]').waitFor();
    await page.getByText('Execution providers').waitFor();
    await page.locator('.candidate-plot canvas').first().waitFor();
    await expect(page.locator('table.cands tr[data-status="chosen"] td').first().textContent()).resolves.toBe('n96');
    await expect(page.locator('table.cands tr[data-status="rejected"]').first().textContent()).resolves.toMatch(/broken.*profile failed/);
    await page.setViewportSize({ width: 1600, height: 1500 });
    await page.waitForTimeout(1000);
    await page.screenshot({ path: screenshotPath('device'), fullPage: true });
    await page.setViewportSize({ width: 1600, height: 900 });
  });
});
