// The fleet-scale tables, as markdown for bench-output/fleet-scale.md and the README.
import type { Figures } from './scenario.js';

const n = (x: unknown, digits = 1) => (typeof x === 'number' && Number.isFinite(x) ? x.toFixed(digits) : x === null || x === undefined ? '—' : String(x));
type Obj = Record<string, unknown>;
const o = (x: unknown): Obj => (x && typeof x === 'object' ? (x as Obj) : {});

export function markdown(runs: Figures[], context: string): string {
  const cols = runs.map((r) => `${r.broker} (${r.devices} devices)`);
  const row = (label: string, get: (r: Figures) => string) => `| ${label} | ${runs.map(get).join(' | ')} |`;
  const lines = [
    '# Fleet at scale (bench/fleet-scale)',
    '',
    context,
    '',
    `| | ${cols.join(' | ')} |`,
    `|---|${cols.map(() => '---').join('|')}|`,
    row('registration', (r) => `${n(r.registerPerS, 0)}/s via ${r.registerVia}`),
    row('connection storm: all online in', (r) => (o(r.storm).allOnlineS === null ? `not all in the limit (${n(o(r.storm).onlineAtEnd, 0)} online)` : `${n(o(r.storm).allOnlineS)} s`)),
    row('storm: connects / closes / CONNACK timeouts', (r) => `${n(o(r.storm).connects, 0)} / ${n(o(r.storm).closes, 0)} / ${n(o(r.storm).connackTimeouts, 0)}`),
    row('storm: controller CPU (cores), peak RSS', (r) => `${n(o(r.storm).controllerCores, 2)}, ${n(o(r.storm).peakRssMb, 0)} MiB`),
    row('steady (heartbeats every 10 s): controller CPU', (r) => `${n(o(r.steady).cores, 3)} cores`),
    row('steady: controller RSS (peak)', (r) => `${n(o(r.steady).peakRssMb, 0)} MiB`),
    row('steady: event-loop delay p50 / p99 / max', (r) => `${n(o(r.steady).lagP50Ms)} / ${n(o(r.steady).lagP99Ms)} / ${n(o(r.steady).lagMaxMs)} ms`),
    row('steady: SQLite rows written', (r) => `${n(o(r.steady).rowsWrittenPerS, 0)}/s`),
    row('steady: fewest online, connections lost', (r) => `${n(o(r.steady).minOnline, 0)}, ${n(o(r.steady).closes, 0)}`),
    row('GET /api/devices (page of 500) p50 / p99', (r) => `${n(o(r.deviceList).pageP50Ms)} / ${n(o(r.deviceList).pageP99Ms)} ms (${n(o(r.deviceList).pageKb, 0)} KB)`),
    row('whole fleet in pages of 2,000', (r) => `${n(o(r.deviceList).wholeFleetMs, 0)} ms (${n(o(r.deviceList).wholeFleetPages, 0)} requests)`),
    row('rollout: end state', (r) => `${o(r.rollout).state} ${JSON.stringify(o(r.rollout).states)}`),
    row('rollout: profiles asked (bound classes × (log2 n + 2))', (r) => `${n(o(r.rollout).profiles, 0)} (≤ ${n(o(r.rollout).profileBound, 0)})`),
    row('rollout: every desired state delivered after', (r) => `${n(o(r.rollout).allDesiredS)} s`),
    row('rollout: every device healthy after', (r) => `${n(o(r.rollout).allHealthyS)} s`),
    row('rollout: fan-out per stage (devices in s → /s)', (r) => ((o(r.rollout).fanOut as Obj[] | undefined) ?? []).map((b) => `${b.devices} in ${n(b.spanS)} s → ${n(b.perS, 0)}/s`).join('; ')),
    row('serving (telemetry every 1 s): controller CPU', (r) => `${n(o(r.serving).cores, 3)} cores; telemetry ${n(o(r.serving).telemetryPerS, 0)}/s sent, ${n(o(r.serving).telemetryInPerS, 0)}/s taken in`),
    row('serving: RSS, event-loop p99, rows written', (r) => `${n(o(r.serving).peakRssMb, 0)} MiB, ${n(o(r.serving).lagP99Ms)} ms, ${n(o(r.serving).rowsWrittenPerS, 0)}/s`),
    row('dashboard: first full table / live', (r) => (typeof r.dashboard === 'object' && r.dashboard ? `${n(o(r.dashboard).firstRenderMs, 0)} ms / ${n(o(r.dashboard).liveMs, 0)} ms` : n(r.dashboard))),
    row('dashboard: one second of updates (apply + render)', (r) => (typeof r.dashboard === 'object' && r.dashboard ? `${n(o(r.dashboard).rowsPerS, 0)} rows: ${n(o(r.dashboard).applyMsPerS)} + ${n(o(r.dashboard).renderMsPerS)} ms (max frame ${n(o(r.dashboard).maxRenderMs)} ms)` : '—')),
    row('simulator: RSS per device (mqtt.js)', (r) => `${n((r.workerRssMbPerDevice as number) * 1024, 0)} KiB`),
    row('controller restart (embedded): all back online in', (r) => (r.restart ? `${n(o(r.restart).allBackS)} s (ready after ${n(o(r.restart).readyS)} s; ${n(o(r.restart).reconnects, 0)} reconnects; ${n(o(r.restart).controllerCores, 2)} cores)` : '—')),
    row('close with the fleet connected', (r) => `${n(o(r.close).ms, 0)} ms, exit ${n(o(r.close).exitCode, 0)}${o(r.close).error ? `, ${String(o(r.close).error)}` : ''}`),
  ];
  return lines.join('\n') + '\n';
}
