import { createHash } from 'node:crypto';
import mqtt, { type MqttClient } from 'mqtt';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encode, type Heartbeat, type Hello, type Telemetry } from '../../protocol/messages.js';
import { deviceTopic } from '../../protocol/topics.js';
import { TestFleet } from '../agent/fleet.js';
import { waitFor } from '../helpers/wait.js';
import { chromiumSkipReason, haveChromium, launchChromium, screenshotPath } from './dashboard-browser.js';

const DEVICES = 1000;
/** Registered but never connected: they show as offline rows. */
const NEVER_CONNECTED = 25;
const BOARDS = [
  { board: 'Raspberry Pi 4 Model B Rev 1.5', cpu: 'Cortex-A72', cores: 4, arch: 'arm64', mem: 4, fps: 6 },
  { board: 'Raspberry Pi 5 Model B Rev 1.0', cpu: 'Cortex-A76', cores: 4, arch: 'arm64', mem: 8, fps: 14 },
  { board: 'NVIDIA Jetson Orin Nano Developer Kit', cpu: 'ARMv8 Processor rev 1 (v8l)', cores: 6, arch: 'arm64', mem: 8, fps: 48 },
  { board: 'NVIDIA Jetson Xavier NX Developer Kit', cpu: 'ARMv8 Processor rev 0 (v8l)', cores: 6, arch: 'arm64', mem: 8, fps: 31 },
];
const SITES = ['north', 'south', 'depot', 'harbour', 'airport'];
const id = (i: number) => `dev-${String(i).padStart(4, '0')}`;
const board = (i: number) => BOARDS[i % BOARDS.length];

function hello(i: number): Hello {
  const b = board(i);
  return {
    v: 1,
    ts: Date.now(),
    deviceClass: createHash('sha256').update(b.board).digest('hex').slice(0, 16),
    inventory: {
      hostname: id(i),
      cpuModel: b.cpu,
      cpuCores: b.cores,
      cpuPhysicalCores: b.cores,
      arch: b.arch,
      memTotalBytes: b.mem * 1024 ** 3,
      os: 'Debian GNU/Linux 12',
      kernel: '6.6.31',
      boardModel: b.board,
      gpus: [],
      executionProviders: ['cpu'],
      onnxruntimeVersion: '1.30.0',
      edgefitVersion: '0.1.0',
    },
  };
}

function heartbeat(i: number): Heartbeat {
  const b = board(i);
  return { v: 1, ts: Date.now(), uptimeS: 3600 + i, agentUptimeS: 600, load1: 1.5, memUsedBytes: (b.mem * 0.4 + (i % 10) / 10) * 1024 ** 3, memTotalBytes: b.mem * 1024 ** 3, temperatureC: 48 + (i % 37) };
}

function telemetry(i: number, round: number, modelSha256: string): Telemetry {
  const b = board(i);
  const fps = b.fps * (0.85 + ((i * 7 + round * 13) % 30) / 100);
  return { v: 1, ts: Date.now(), fps, latencyP50Ms: 1000 / fps, latencyP95Ms: 1150 / fps, memoryMb: 180 + (i % 50), temperatureC: 50 + ((i + round) % 36), throttled: i % 97 === 0, modelSha256, errors: 0 };
}

const sha = (round: number) => createHash('sha256').update(`candidate-round-${round}`).digest('hex');

/** Sums the rows the page applied from live batches since `mark`, and the time it spent doing so. */
async function appliedSince(page: Page, mark: string): Promise<{ rows: number; batches: number; applyMs: number; renderMs: number; maxRenderMs: number; drawn: boolean }> {
  return page.evaluate((name) => {
    const since = performance.getEntriesByName(name)[0]?.startTime ?? 0;
    const after = (entry: string) => performance.getEntriesByName(entry, 'measure').filter((e) => e.startTime >= since) as PerformanceMeasure[];
    const apply = after('edgefit:apply');
    const render = after('edgefit:render');
    return {
      rows: apply.reduce((n, e) => n + (e.detail as { rows: number }).rows, 0),
      batches: apply.length,
      applyMs: apply.reduce((n, e) => n + e.duration, 0),
      renderMs: render.reduce((n, e) => n + e.duration, 0),
      maxRenderMs: Math.max(0, ...render.map((e) => e.duration)),
      // The table has been redrawn since the last batch arrived.
      drawn: apply.length > 0 && render.some((r) => r.startTime >= apply[apply.length - 1].startTime + apply[apply.length - 1].duration),
    };
  }, mark);
}

describe.skipIf(!haveChromium)(`dashboard with ${DEVICES} simulated devices${haveChromium ? '' : ` (skipped: ${chromiumSkipReason})`}`, () => {
  const fleet = new TestFleet();
  const clients: MqttClient[] = [];
  let browser: Browser;
  let page: Page;

  async function publishRound(round: number): Promise<void> {
    const model = sha(round);
    await Promise.all(clients.map((c, i) => c.publishAsync(deviceTopic(id(i), 'telemetry'), encode(telemetry(i, round, model)), { qos: 0 })));
  }

  beforeAll(async () => {
    browser = await launchChromium();
    await fleet.start();
    const tokens: string[] = [];
    for (let i = 0; i < DEVICES; i++) tokens.push(fleet.controller.registry.add(id(i), { site: SITES[i % SITES.length], tier: i % 3 ? 'edge' : 'gateway' }));
    const connectable = DEVICES - NEVER_CONNECTED;
    for (let start = 0; start < connectable; start += 100) {
      const batch = await Promise.all(
        tokens.slice(start, Math.min(connectable, start + 100)).map(
          (token, k) =>
            new Promise<MqttClient>((resolve, reject) => {
              const c = mqtt.connect(fleet.controller.brokerUrl, { username: id(start + k), password: token, clientId: `sim-${id(start + k)}`, reconnectPeriod: 0, keepalive: 120 });
              c.once('connect', () => resolve(c));
              c.once('error', reject);
            }),
        ),
      );
      clients.push(...batch);
    }
    await Promise.all(clients.map((c, i) => c.publishAsync(deviceTopic(id(i), 'hello'), encode(hello(i)), { qos: 1 })));
    await Promise.all(clients.map((c, i) => c.publishAsync(deviceTopic(id(i), 'heartbeat'), encode(heartbeat(i)), { qos: 1 })));
    await waitFor(() => fleet.controller.registry.list().filter((d) => d.heartbeat).length === connectable, 30_000, 'every simulated device heard from');
    await publishRound(0);
    await waitFor(() => fleet.controller.live.get(id(connectable - 1)).telemetry, 10_000, 'the first telemetry round');
    page = await browser.newPage({ viewport: { width: 1600, height: 900 } });
    await page.goto(`${fleet.controller.httpUrl}/#token=${fleet.controller.adminToken}`);
    await page.locator('#conn[data-state="live"]').waitFor();
  }, 120_000);

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.endAsync(true)));
    await browser?.close();
    await fleet.close();
  });

  it('applies a round of 1,000 telemetry updates live and prints what it cost the page', async () => {
    await page.getByText(`${DEVICES.toLocaleString('en-US')} of ${DEVICES.toLocaleString('en-US')} devices`).waitFor();
    const connectable = DEVICES - NEVER_CONNECTED;
    for (const round of [1, 2, 3]) {
      const mark = `round-${round}`;
      await page.evaluate((name) => performance.mark(name), mark);
      const sent = Date.now();
      await publishRound(round);
      const applied = await waitFor(async () => {
        const a = await appliedSince(page, mark);
        return a.rows >= connectable && a.drawn ? a : undefined;
      }, 20_000, `round ${round} applied on the page`);
      const seenAfterMs = Date.now() - sent;
      console.log(
        `dashboard round ${round}: ${applied.rows} device rows in ${applied.batches} SSE batches, parse+apply ${applied.applyMs.toFixed(1)} ms total, ` +
          `render ${applied.renderMs.toFixed(1)} ms total (max ${applied.maxRenderMs.toFixed(1)} ms per frame), on screen within ${seenAfterMs} ms of publishing`,
      );
      expect(applied.rows).toBe(connectable);
    }
    // Every updated row carries the round's model: filtering on it finds all of them.
    const search = page.locator('input.search');
    await search.fill(sha(3).slice(0, 12));
    await page.getByText(`${connectable.toLocaleString('en-US')} of ${DEVICES.toLocaleString('en-US')} devices`).waitFor();
    await search.fill('');
  });

  it('reaches all 1,000 rows by scrolling and by filtering', async () => {
    const viewport = page.locator('.viewport');
    await viewport.evaluate((el) => (el.scrollTop = el.scrollHeight));
    await page.locator(`.grid-row[data-id="${id(DEVICES - 1)}"]`).waitFor();
    await viewport.evaluate((el) => (el.scrollTop = 0));
    await page.locator(`.grid-row[data-id="${id(0)}"]`).waitFor();
    // Only the rows in view exist in the DOM.
    expect(await page.locator('.spacer .grid-row:not([hidden])').count()).toBeLessThan(80);
    await page.locator('input.search').fill(id(517));
    await page.getByText(`1 of ${DEVICES.toLocaleString('en-US')} devices`).waitFor();
    await page.locator(`.grid-row[data-id="${id(517)}"]`).waitFor();
    await page.locator('input.search').fill('');
    await page.selectOption('select.status-filter', 'offline');
    await page.getByText(`${NEVER_CONNECTED} of ${DEVICES.toLocaleString('en-US')} devices`).waitFor();
    await page.selectOption('select.status-filter', 'all');
    // Sorting by FPS, fastest first: a Jetson Orin tops the list.
    await page.locator('.grid-row.head .cell', { hasText: /^FPS$/ }).click();
    await expect(page.locator('.grid-row.head .cell', { hasText: /^FPS$/ }).getAttribute('aria-sort')).resolves.toBe('descending');
    await page.waitForTimeout(400);
    const top = await page.locator('.spacer .grid-row:not([hidden])').evaluateAll((rows) => rows.map((r) => ({ y: new DOMMatrix(getComputedStyle(r).transform).m42, id: r.getAttribute('data-id') })).sort((a, b) => a.y - b.y)[0].id);
    expect(board(Number(top!.slice(4))).board).toMatch(/Orin/);
    await page.screenshot({ path: screenshotPath('fleet-1000') });
  });
});
