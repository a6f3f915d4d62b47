// The dashboard with the whole fleet in Chromium (playwright-core + Debian's
// /usr/bin/chromium, as test/controller/dashboard-browser.ts launches it):
// the time to the first full table, and what one second of live updates
// (every serving device's telemetry once) costs the page, from the
// performance measures the dashboard itself records (edgefit:apply, edgefit:render).
import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

export interface DashboardFigures {
  firstRenderMs: number;
  liveMs: number;
  rowsPerS: number;
  applyMsPerS: number;
  renderMsPerS: number;
  maxRenderMs: number;
  windowS: number;
}

export async function measureDashboard(httpUrl: string, token: string, devices: number, windowS = 10): Promise<DashboardFigures | string> {
  if (!existsSync(CHROMIUM)) return `skipped: no Chromium at ${CHROMIUM}`;
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  try {
    const page = await browser.newPage({ viewport: { width: 1600, height: 900 } });
    const t0 = performance.now();
    await page.goto(`${httpUrl}/#token=${token}`);
    await page.locator('#conn[data-state="live"]').waitFor({ timeout: 120_000 });
    const liveMs = performance.now() - t0;
    const count = devices.toLocaleString('en-US');
    await page.getByText(`${count} of ${count} devices`).waitFor({ timeout: 120_000 });
    const firstRenderMs = performance.now() - t0;
    await page.evaluate(() => performance.mark('fleet-scale-window'));
    await page.waitForTimeout(windowS * 1000);
    const m = await page.evaluate(() => {
      const since = performance.getEntriesByName('fleet-scale-window')[0].startTime;
      const after = (name: string) => performance.getEntriesByName(name, 'measure').filter((e) => e.startTime >= since) as PerformanceMeasure[];
      const apply = after('edgefit:apply');
      const render = after('edgefit:render');
      return {
        rows: apply.reduce((n, e) => n + (e.detail as { rows: number }).rows, 0),
        applyMs: apply.reduce((n, e) => n + e.duration, 0),
        renderMs: render.reduce((n, e) => n + e.duration, 0),
        maxRenderMs: Math.max(0, ...render.map((e) => e.duration)),
      };
    });
    return { firstRenderMs, liveMs, rowsPerS: m.rows / windowS, applyMsPerS: m.applyMs / windowS, renderMsPerS: m.renderMs / windowS, maxRenderMs: m.maxRenderMs, windowS };
  } finally {
    await browser.close();
  }
}
