// One GET /metrics scrape with 100, 1,000 and 10,000 online serving devices:
// samples, bytes and time, against the live view's own snapshot (the
// dashboard's, which the scrape reads) measured in the same run. The
// per-device bound (1,000 devices) should hold the size flat past 1,000.
// Run: npm run build && node dist/bench/metrics-scrape.bench.js
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import pino from 'pino';
import { openDb } from '../controller/db.js';
import { LiveHub } from '../controller/live/hub.js';
import { ControllerMetrics } from '../controller/metrics/metrics.js';
import { LiveStateStore } from '../controller/profiles.js';
import { Registry } from '../controller/registry.js';
import { validMessages } from './fuzz/device-messages.js';
import { median, writeReport } from './common.js';

const RUNS = 5;
const rows: string[] = ['| devices | samples | KiB | scrape ms (median of 5) | live snapshot alone ms | scrape / snapshot |', '|---|---|---|---|---|---|'];

for (const n of [100, 1000, 10_000]) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'edgefit-metrics-bench-'));
  const db = openDb(dir);
  try {
    const registry = new Registry(db);
    const live = new LiveStateStore();
    const now = Date.now();
    for (let i = 0; i < n; i++) {
      const id = `device-${String(i).padStart(5, '0')}`;
      registry.add(id);
      registry.recordPresence(id, true, now);
    }
    // one fixed clock for the live view: recording 10,000 telemetries takes longer than the 30 s freshness bound on a busy box
    const hub = new LiveHub({ registry, serving: live, now: () => now });
    for (let i = 0; i < n; i++) {
      const id = `device-${String(i).padStart(5, '0')}`;
      live.recordTelemetry(id, validMessages(id, Date.now()).telemetry as Parameters<LiveStateStore['recordTelemetry']>[1]);
    }
    const metrics = new ControllerMetrics({ db, log: pino({ level: 'silent' }) });
    metrics.watchFleet(() => hub.snapshot());
    await metrics.scrape();
    const scrapeMs: number[] = [];
    const snapshotMs: number[] = [];
    let body = '';
    for (let r = 0; r < RUNS; r++) {
      let t = performance.now();
      body = (await metrics.scrape()).body;
      scrapeMs.push(performance.now() - t);
      t = performance.now();
      hub.snapshot();
      snapshotMs.push(performance.now() - t);
    }
    const samples = body.split('\n').filter((l) => l && !l.startsWith('#')).length;
    const s = median(scrapeMs);
    const b = median(snapshotMs);
    rows.push(`| ${n} | ${samples} | ${(body.length / 1024).toFixed(0)} | ${s.toFixed(1)} | ${b.toFixed(1)} | ${(s / b).toFixed(2)} |`);
    hub.close();
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const report = `# GET /metrics scrape cost\n\n${rows.join('\n')}\n\nLoad average at the end: ${os.loadavg()[0].toFixed(1)} on ${os.cpus().length} cores.\n`;
console.log(report);
console.log(`written to ${writeReport('metrics-scrape.md', report)}`);
