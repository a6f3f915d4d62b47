import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ArtifactRef } from '../../protocol/artifacts.js';
import { TestFleet } from '../agent/fleet.js';
import { builtYolov8n } from '../agent/models.js';
import { waitFor } from '../helpers/wait.js';
import { chromiumSkipReason, haveChromium, launchChromium, screenshotPath } from './dashboard-browser.js';

const fpsCell = (page: Page, id: string) => page.locator(`.grid-row[data-id="${id}"] .cell:nth-child(7)`);

describe.skipIf(!haveChromium)(`dashboard in Chromium against a controller and a serving agent${haveChromium ? '' : ` (skipped: ${chromiumSkipReason})`}`, () => {
  const fleet = new TestFleet();
  let browser: Browser;
  let page: Page;
  let model: ArtifactRef;
  let small: ArtifactRef;

  beforeAll(async () => {
    browser = await launchChromium();
    await fleet.start();
    fleet.agent('cam-1');
    fleet.controller.registry.add('pi-attic', { site: 'attic' });
    await waitFor(() => fleet.controller.registry.get('cam-1')?.online && fleet.controller.registry.get('cam-1')?.heartbeat, 20_000, 'cam-1 online');
    fleet.controller.registry.setLabel('cam-1', 'site', 'lab');
    model = await fleet.controller.artifacts.put(builtYolov8n(fleet.scratch, 96), { name: 'yolov8n-96.onnx' });
    small = await fleet.controller.artifacts.put(builtYolov8n(fleet.scratch, 64), { name: 'yolov8n-64.onnx' });
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
    await expect(page.locator('.grid-row[data-id="cam-1"] .cell:nth-child(6)').textContent()).resolves.toBe('yolov8n-96');
    // Let the sparkline gather a few points before the picture.
    await page.waitForTimeout(3000);
    await page.screenshot({ path: screenshotPath('fleet') });
  });

  it('opens a device with its inventory, live charts and the plot of the candidates it measured', async () => {
    await fleet.controller.sendJob('cam-1', { jobId: 'dash-96', kind: 'profile', artifact: model, candidateId: 'yolov8n-96', options: { runs: 20, warmup: 2 } });
    await fleet.controller.sendJob('cam-1', { jobId: 'dash-64', kind: 'profile', artifact: small, candidateId: 'yolov8n-64', options: { runs: 20, warmup: 2 } });
    await waitFor(() => fleet.controller.profiles.get('dash-96') && fleet.controller.profiles.get('dash-64'), 60_000, 'both profile results');
    await page.click('.grid-row[data-id="cam-1"]');
    await page.locator('.device[data-device="cam-1"]').waitFor();
    await page.getByText('Execution providers').waitFor();
    await page.locator('.candidate-plot canvas').first().waitFor();
    await expect(page.locator('table.cands tbody tr').count()).resolves.toBe(2);
    await page.waitForTimeout(1500);
    await page.screenshot({ path: screenshotPath('device'), fullPage: true });
  });
});
