import type { Device } from '../../registry.js';
import type { DeviceHistory, LiveDevice } from '../../live/wire.js';
import { api } from './api.js';
import { actionButtons, DEVICE_REMOVED } from './device-actions.js';
import { loadCandidates, type CandidateData } from './candidates.js';
import { candidateChart, timeChart, type CandidatePoint, type TimeChart } from './charts.js';
import { h, setText } from './dom.js';
import { ago, bytes, clip, dateTime, labels, mb, num } from './format.js';
import { SnapshotPanel } from './snapshot-panel.js';
import type { FleetStore } from './store.js';

/** What GET /api/devices/:id answers: the registry row. */
type DeviceInfo = Omit<Device, 'heartbeat'>;

const HISTORY_WINDOW_MS = 30 * 60_000;

function stat(label: string, value: HTMLElement): HTMLElement {
  return h('div', { class: 'stat' }, h('div', { class: 'stat-label' }, label), value);
}

function definitionList(rows: Array<[string, string]>): HTMLElement {
  return h('dl', { class: 'kv' }, ...rows.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
}

/** One device: live numbers, inventory, FPS and temperature over time, and the candidates it measured. */
export class DeviceView {
  readonly root: HTMLElement;
  private readonly values: Record<'fps' | 'app' | 'p95' | 'memory' | 'temp' | 'throttled' | 'candidate' | 'seen' | 'decode' | 'inference' | 'dropped' | 'reconnects' | 'source', HTMLElement>;
  private readonly healthEl: HTMLElement;
  private readonly charts: TimeChart[] = [];
  private disposers: Array<() => void> = [];
  private lastSample = 0;

  constructor(
    private readonly store: FleetStore,
    private readonly id: string,
  ) {
    const big = () => h('div', { class: 'stat-value' }, '–');
    this.values = { fps: big(), app: big(), p95: big(), memory: big(), temp: big(), throttled: big(), candidate: big(), seen: big(), decode: big(), inference: big(), dropped: big(), reconnects: big(), source: big() };
    this.healthEl = h('div', { class: 'device-health' });
    this.root = h(
      'section',
      { class: 'device', 'data-device': id },
      h('div', { class: 'crumbs' }, h('a', { href: '#/' }, '← Fleet')),
      h('div', { class: 'device-head' }, h('h1', {}, id), this.healthEl, h('div', { class: 'actions' }, ...actionButtons(() => id, false))),
      h(
        'div',
        { class: 'stats' },
        stat('FPS', this.values.fps),
        stat('App FPS', this.values.app),
        stat('p95 latency', this.values.p95),
        stat('Memory', this.values.memory),
        stat('Temperature', this.values.temp),
        stat('Throttled', this.values.throttled),
        stat('Candidate', this.values.candidate),
        stat('Last seen', this.values.seen),
      ),
      // per frame, decode apart from inference, and what the source lost (latest frame wins: drops are by design)
      h(
        'div',
        { class: 'stats source-stats' },
        stat('Decode / frame', this.values.decode),
        stat('Inference / frame', this.values.inference),
        stat('Dropped', this.values.dropped),
        stat('Reconnects', this.values.reconnects),
        stat('Source', this.values.source),
      ),
      h('div', { class: 'loading' }, 'Loading…'),
    );
    this.root.addEventListener(DEVICE_REMOVED, () => {
      store.forget(id);
      location.hash = '#/';
    });
    const snapshot = new SnapshotPanel(id);
    this.root.querySelector('.source-stats')?.after(snapshot.root);
    this.disposers.push(() => snapshot.destroy());
    this.disposers.push(store.subscribe((changed) => (changed === 'all' || changed.has(id)) && this.live()));
    const clock = window.setInterval(() => this.live(), 1000);
    this.disposers.push(() => window.clearInterval(clock));
    this.live();
    void this.load();
  }

  destroy(): void {
    for (const dispose of this.disposers) dispose();
    for (const chart of this.charts) chart.destroy();
    this.disposers = [];
  }

  private live(): void {
    const d: LiveDevice | undefined = this.store.devices.get(this.id);
    if (!d) return;
    setText(this.values.fps, num(d.fps, 1));
    // the application's own report (hand-off mode), with its age
    setText(this.values.app, d.app ? num(d.app.fps, 1) : '–');
    this.values.app.title = d.app ? `the application's own report, ${d.app.ageS} s old` : 'no application reports (hand-off mode)';
    setText(this.values.p95, d.latencyP95Ms === null ? '–' : `${num(d.latencyP95Ms, 1)} ms`);
    setText(this.values.memory, d.memoryMb !== null ? mb(d.memoryMb) : d.deviceMemUsedMb !== null ? `${mb(d.deviceMemUsedMb)} host` : '–');
    setText(this.values.temp, d.temperatureC === null ? '–' : `${d.temperatureC.toFixed(1)} °C`);
    setText(this.values.throttled, d.throttled === null ? '–' : d.throttled ? 'yes' : 'no');
    setText(this.values.candidate, d.candidate ?? '–');
    setText(this.values.seen, ago(d.lastSeen, this.store.now()));
    this.sourceStats(d);
    this.healthEl.replaceChildren(h('span', { class: `pill ${d.health}` }, d.health), d.healthReason ? h('span', { class: 'reason' }, d.healthReason) : '', h('span', { class: `dot ${d.online ? 'on' : 'off'}` }), d.online ? 'online' : 'offline');
    const sample = d.fpsSample;
    if (sample && sample[0] > this.lastSample && this.charts.length) {
      this.lastSample = sample[0];
      this.charts[0].append(sample);
      if (d.temperatureC !== null) this.charts[1]?.append([sample[0], d.temperatureC]);
    }
  }

  private sourceStats(d: LiveDevice): void {
    const s = d.source;
    setText(this.values.decode, d.decodeMs === null ? '–' : `${num(d.decodeMs, 1)} ms`);
    setText(this.values.inference, d.inferenceMs === null ? '–' : `${num(d.inferenceMs, 1)} ms`);
    setText(this.values.dropped, s?.droppedFrames == null ? '–' : `${s.droppedFrames} · ${s.droppedTotal ?? '–'} total`);
    this.values.dropped.title = s ? 'dropped since the previous telemetry (about a second) · since the source opened' : 'no frame source reported';
    setText(this.values.reconnects, s?.reconnects == null ? '–' : String(s.reconnects));
    const gap = s?.gap ? (s.gap.to === null ? `down since ${dateTime(s.gap.from)}` : `last gap ${((s.gap.to - s.gap.from) / 1000).toFixed(1)} s, ${ago(s.gap.to, this.store.now())}`) : '';
    setText(this.values.source, !s || s.connected === null ? '–' : s.connected ? 'connected' : 'down');
    this.values.source.title = [gap, s?.error ? `last error: ${s.error}` : ''].filter(Boolean).join(' · ') || 'no gap';
  }

  private async load(): Promise<void> {
    const [info, history, candidates] = await Promise.all([
      api<DeviceInfo>(`/api/devices/${encodeURIComponent(this.id)}`),
      api<DeviceHistory>(`/api/live/devices/${encodeURIComponent(this.id)}/history`),
      loadCandidates(this.id).catch((err: unknown) => ({ error: err instanceof Error ? err.message : String(err) })),
    ]);
    if (!this.disposers.length) return;
    const fpsBox = h('div', { class: 'chart' });
    const tempBox = h('div', { class: 'chart' });
    const candBox = h('div', { class: 'panel candidates' });
    this.root.querySelector('.loading')?.replaceWith(
      h('div', { class: 'panels' }, h('div', { class: 'panel' }, h('h2', {}, 'FPS, last 30 minutes'), fpsBox), h('div', { class: 'panel' }, h('h2', {}, 'Temperature, last 30 minutes'), tempBox)),
      candBox,
      h('div', { class: 'panel' }, h('h2', {}, 'Inventory'), this.inventory(info)),
    );
    this.lastSample = history.fps[history.fps.length - 1]?.[0] ?? 0;
    this.charts.push(timeChart(fpsBox, 'FPS', 'frames/s', '#4ea1ff', history.fps, HISTORY_WINDOW_MS));
    const hasSensor = history.temperatureC.length > 0 || this.store.devices.get(this.id)?.temperatureC != null;
    if (hasSensor) this.charts.push(timeChart(tempBox, 'Temperature', '°C', '#f0883e', history.temperatureC, HISTORY_WINDOW_MS));
    else tempBox.append(h('p', { class: 'muted empty' }, 'This device reports no temperature sensor.'));
    this.renderCandidates(candBox, candidates);
  }

  private inventory(info: DeviceInfo): HTMLElement {
    const inv = info.inventory;
    const rows: Array<[string, string]> = [
      ['Device class', info.deviceClass ?? 'not reported yet'],
      ['Labels', labels(info.labels).join(', ') || '–'],
      ['Registered', dateTime(info.createdAt)],
      ['First seen', dateTime(info.firstSeen)],
    ];
    if (inv) {
      rows.push(
        ['Hostname', inv.hostname],
        ['Board', inv.boardModel ?? '–'],
        ['CPU', `${inv.cpuModel} · ${inv.cpuCores} threads${inv.cpuPhysicalCores ? ` / ${inv.cpuPhysicalCores} cores` : ''} · ${inv.arch}`],
        ['Memory', bytes(inv.memTotalBytes)],
        ['GPUs', inv.gpus.join(', ') || '–'],
        ['Execution providers', inv.executionProviders.join(', ')],
        ['OS', `${inv.os} · kernel ${inv.kernel}`],
        ['Software', `edgefit ${inv.edgefitVersion} · onnxruntime ${inv.onnxruntimeVersion}`],
      );
    }
    return definitionList(rows);
  }

  private renderCandidates(box: HTMLElement, data: CandidateData | { error: string }): void {
    box.append(h('h2', {}, 'Candidates measured'));
    if ('error' in data) {
      box.append(h('p', { class: 'muted' }, `Could not load candidates: ${data.error}`));
      return;
    }
    if (!data.points.some((p) => p.latencyMs !== null && Number.isFinite(p.y))) {
      box.append(h('p', { class: 'muted empty' }, data.empty));
      if (data.points.length) box.append(this.candidateTable(data.points));
      return;
    }
    const plot = h('div', { class: 'chart candidate-plot' });
    const hover = h('div', { class: 'hover muted' }, 'Hover a point for its verdict.');
    box.append(h('p', { class: 'muted summary', title: data.summary }, data.summary), plot, hover, this.candidateTable(data.points));
    const dispose = candidateChart(plot, data.points, data.yLabel, { latencyMs: data.sloLatencyMs, label: data.sloLabel }, (p) =>
      setText(hover, p ? `${p.name}: p95 ${num(p.latencyMs, 1)} ms, ${p.yKind} ${num(p.y, 3)} — ${p.status}${p.reason ? ` (${p.reason})` : ''}` : 'Hover a point for its verdict.'),
    );
    this.disposers.push(dispose);
  }

  private candidateTable(points: CandidatePoint[]): HTMLElement {
    const order = { chosen: 0, rejected: 1, failed: 2, feasible: 3 } as const;
    const rows = [...points].sort((a, b) => order[a.status] - order[b.status] || (Number.isFinite(b.y) ? b.y : -Infinity) - (Number.isFinite(a.y) ? a.y : -Infinity));
    return h(
      'table',
      { class: 'cands' },
      h('thead', {}, h('tr', {}, h('th', {}, 'Candidate'), h('th', { class: 'num' }, 'p95 ms'), h('th', { class: 'num' }, 'Accuracy / cost'), h('th', {}, 'Source'), h('th', {}, 'Verdict'), h('th', {}, 'Why not chosen'), h('th', {}, 'Measured on'))),
      h(
        'tbody',
        {},
        ...rows.map((p) =>
          h('tr', { 'data-status': p.status }, h('td', { class: 'mono' }, p.name), h('td', { class: 'num' }, num(p.latencyMs, 1)), h('td', { class: 'num' }, num(p.y, 3)), h('td', { class: 'muted' }, p.yKind), h('td', {}, h('span', { class: `verdict ${p.status}` }, p.status)), h('td', { class: 'why', title: p.reason }, clip(p.reason) || '–'), h('td', {}, p.measuredOn)),
        ),
      ),
    );
  }
}
