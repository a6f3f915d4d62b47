// Real Chromium for the dashboard suites (Debian's /usr/bin/chromium through playwright-core).
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { defaultDashboardDir } from '../../controller/http/dashboard.js';
import { repoRoot } from '../fixtures.js';

export const CHROMIUM = '/usr/bin/chromium';
export const haveChromium = existsSync(CHROMIUM);
export const chromiumSkipReason = `dashboard browser tests need Debian's chromium at ${CHROMIUM}`;
export const screenshotDir = path.join(repoRoot, 'test-output', 'dashboard');

export async function launchChromium(): Promise<Browser> {
  if (!defaultDashboardDir()) throw new Error("dist/dashboard is missing: run 'npm run build' first (npm test does)");
  mkdirSync(screenshotDir, { recursive: true });
  return chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
}

export function screenshotPath(name: string): string {
  return path.join(screenshotDir, `${name}.png`);
}
