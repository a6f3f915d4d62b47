import type { RolloutsBatch } from '../../live/wire.js';
import type { RolloutSummary } from '../../rollout/status.js';
import { api, isMissingRoute } from './api.js';
import { checkPanel } from './check-panel.js';
import { predictionPanel } from './prediction-panel.js';
import { h, setText } from './dom.js';
import { ago, clip, num } from './format.js';
import type { RolloutFeed } from './rollout-feed.js';
import type { FleetStore } from './store.js';

export type RolloutStatus = RolloutSummary;
type RolloutDeviceStatus = RolloutStatus['devices'][number];

/** The device states of a rollout in the buckets the dashboard counts. */
export const BUCKETS = [
  ['pending', ['pending']],
  ['profiling', ['profiling']],
  ['deploying', ['chosen', 'downloading', 'verifying', 'activating', 'health-check']],
  ['healthy', ['healthy']],
  ['failed', ['failed', 'rolled-back', 'timed-out']],
  ['offline', ['offline']],
  // Not deployed because the rollout was aborted: neither healthy nor failed.
  ['cancelled', ['cancelled']],
] as const;
export type Bucket = (typeof BUCKETS)[number][0];

export function bucketOf(state: string): Bucket {
  return BUCKETS.find(([, states]) => (states as readonly string[]).includes(state))?.[0] ?? 'pending';
}

function counts(devices: readonly RolloutDeviceStatus[]): Record<Bucket, number> {
  const out = { pending: 0, profiling: 0, deploying: 0, healthy: 0, failed: 0, offline: 0, cancelled: 0 };
  for (const d of devices) out[bucketOf(d.state)]++;
  return out;
}

/** A bar split by bucket, widths proportional to counts. */
function stackedBar(c: Record<Bucket, number>, total: number): HTMLElement {
  return h('div', { class: 'stack' }, ...BUCKETS.filter(([b]) => c[b] > 0).map(([b]) => h('span', { class: `seg ${b}`, style: `width:${(c[b] / Math.max(1, total)) * 100}%`, title: `${c[b]} ${b}` })));
}

/** After a failed fetch, try again this much later; otherwise the event stream keeps the view current. */
const RETRY_MS = 5000;

/**
 * Rollouts: the list, or one rollout with its stages, counts, devices, events
 * and pause/resume/abort. It fetches once, then follows the `rollouts` events
 * of the live stream (fetching afresh when the stream reconnects); live FPS
 * comes from the fleet store, which the stream keeps current.
 */
export class RolloutsView {
  readonly root: HTMLElement;
  private alive = true;
  private retry: number | undefined;
  /** List mode: every rollout by id. */
  private readonly rollouts = new Map<string, RolloutStatus>();
  private shown: RolloutStatus | null = null;
  private loaded = false;
  /** Pushes that arrive while a fetch is out: applied over its answer, since they may be newer. */
  private fetching: RolloutStatus[][] | null = null;
  private fpsCells = new Map<string, HTMLElement>();
  private readonly disposers: Array<() => void>;

  constructor(
    private readonly selected: string | null,
    private readonly fleet: FleetStore,
    feed: RolloutFeed,
  ) {
    this.root = h('section', { class: 'rollouts' }, h('div', { class: 'loading' }, 'Loading…'));
    this.disposers = [
      feed.subscribe({ batch: (b) => this.push(b), resync: () => void this.refresh() }),
      fleet.subscribe((changed) => this.liveFps(changed)),
    ];
    void this.refresh();
  }

  destroy(): void {
    this.alive = false;
    window.clearTimeout(this.retry);
    for (const off of this.disposers) off();
  }

  private async refresh(): Promise<void> {
    window.clearTimeout(this.retry);
    const pushed: RolloutStatus[][] = [];
    this.fetching = pushed;
    try {
      if (this.selected) {
        const one = await api<RolloutStatus>(`/api/rollouts/${encodeURIComponent(this.selected)}`);
        if (!this.alive) return;
        this.shown = one;
      } else {
        const { rollouts } = await api<{ rollouts: RolloutStatus[] }>('/api/rollouts');
        if (!this.alive) return;
        this.rollouts.clear();
        for (const r of rollouts) this.rollouts.set(r.id, r);
      }
      if (this.fetching === pushed) this.fetching = null;
      this.loaded = true;
      for (const batch of pushed) this.merge(batch);
      this.render();
    } catch (err) {
      if (this.fetching === pushed) this.fetching = null;
      if (!this.alive) return;
      const message = isMissingRoute(err) ? 'This controller has no rollout API.' : err instanceof Error ? err.message : String(err);
      this.root.replaceChildren(h('h1', {}, 'Rollouts'), h('p', { class: 'error' }, message));
      this.retry = window.setTimeout(() => void this.refresh(), RETRY_MS);
    }
  }

  private push(batch: RolloutsBatch): void {
    if (this.fetching) {
      this.fetching.push(batch.rollouts);
      return;
    }
    // An error page has nothing to update: its retry fetches everything.
    if (!this.loaded) return;
    if (this.merge(batch.rollouts)) this.render();
  }

  /** Whether anything on screen changed. */
  private merge(rollouts: RolloutStatus[]): boolean {
    let changed = false;
    for (const r of rollouts) {
      if (this.selected) {
        if (r.id !== this.selected) continue;
        this.shown = r;
      } else this.rollouts.set(r.id, r);
      changed = true;
    }
    return changed;
  }

  private render(): void {
    if (this.selected) {
      if (this.shown) this.renderOne(this.shown);
    } else this.renderList([...this.rollouts.values()]);
  }

  /** The FPS column follows the device stream between rollout changes. */
  private liveFps(changed: ReadonlySet<string> | 'all'): void {
    for (const [id, cell] of this.fpsCells) {
      if (changed !== 'all' && !changed.has(id)) continue;
      const device = this.fleet.devices.get(id);
      if (device) setText(cell, num(device.fps, 1));
    }
  }

  private renderList(rollouts: RolloutStatus[]): void {
    if (!this.alive) return;
    const rows = [...rollouts].sort((a, b) => b.createdAt - a.createdAt);
    this.root.replaceChildren(
      h('h1', {}, 'Rollouts'),
      rows.length === 0
        ? h('p', { class: 'muted empty' }, 'No rollouts yet. Start one with ', h('code', {}, 'edgefit rollout create SPEC'), ' or POST /api/rollouts.')
        : h(
            'table',
            { class: 'rollout-list' },
            h('thead', {}, h('tr', {}, h('th', {}, 'Rollout'), h('th', {}, 'Model'), h('th', {}, 'State'), h('th', { class: 'num' }, 'Stage'), h('th', { class: 'num' }, 'Devices'), h('th', {}, 'Progress'), h('th', {}, 'Started'))),
            h(
              'tbody',
              {},
              ...rows.map((r) => {
                const c = counts(r.devices);
                const stages = new Set(r.devices.map((d) => d.stage)).size;
                return h(
                  'tr',
                  { 'data-rollout': r.id },
                  h('td', {}, h('a', { href: `#/rollouts/${encodeURIComponent(r.id)}` }, r.spec.name ?? r.id)),
                  h('td', { class: 'mono' }, r.spec.model),
                  h('td', {}, h('span', { class: `pill r-${r.state}` }, r.state)),
                  h('td', { class: 'num' }, `${Math.min(r.stage + 1, stages)} / ${stages}`),
                  h('td', { class: 'num' }, String(r.devices.length)),
                  h('td', { class: 'progress-cell' }, stackedBar(c, r.devices.length)),
                  h('td', { class: 'muted' }, ago(r.createdAt, Date.now())),
                );
              }),
            ),
          ),
    );
  }

  private renderOne(r: RolloutStatus): void {
    if (!this.alive) return;
    this.shown = r;
    this.fpsCells = new Map();
    const fpsCell = (d: RolloutDeviceStatus) => {
      const device = this.fleet.devices.get(d.deviceId);
      const cell = h('td', { class: 'num', 'data-fps': '' }, num(device ? device.fps : (d.live?.fps ?? null), 1));
      this.fpsCells.set(d.deviceId, cell);
      return cell;
    };
    const c = counts(r.devices);
    const stages = [...new Set(r.devices.map((d) => d.stage))].sort((a, b) => a - b);
    const action = (name: 'pause' | 'resume' | 'abort', enabled: boolean) => {
      const button = h('button', { class: `action ${name}`, disabled: !enabled, 'data-action': name }, name[0].toUpperCase() + name.slice(1));
      button.addEventListener('click', () => void this.act(r.id, name));
      return button;
    };
    const live = r.state === 'running' || r.state === 'paused';
    this.root.replaceChildren(
      h('div', { class: 'crumbs' }, h('a', { href: '#/rollouts' }, '← Rollouts')),
      h(
        'div',
        { class: 'rollout-head' },
        h('h1', {}, r.spec.name ?? r.id),
        h('span', { class: `pill r-${r.state}`, 'data-state': r.state }, r.state),
        h('span', { class: 'muted' }, `model ${r.spec.model} · started ${ago(r.createdAt, Date.now())}`),
        h('div', { class: 'actions' }, action('pause', r.state === 'running'), action('resume', r.state === 'paused'), action('abort', live)),
      ),
      r.reason ? h('div', { class: `banner ${r.state === 'aborted' ? 'bad' : ''}` }, h('b', {}, r.state === 'aborted' ? 'Aborted: ' : 'Note: '), r.reason) : '',
      h('div', { class: 'counts' }, h('div', { class: 'count-box targeted' }, h('b', { 'data-count': 'targeted' }, String(r.devices.length)), 'targeted'), ...BUCKETS.map(([b]) => h('div', { class: `count-box ${b}` }, h('b', { 'data-count': b }, String(c[b])), b))),
      h(
        'div',
        { class: 'panel' },
        h('h2', {}, 'Stages'),
        ...stages.map((s) => {
          const inStage = r.devices.filter((d) => d.stage === s);
          const sc = counts(inStage);
          return h(
            'div',
            { class: `stage ${s === r.stage && live ? 'current' : ''} ${s < r.stage ? 'past' : ''}` },
            h('span', { class: 'stage-name' }, s === 0 ? 'Canary' : `Phase ${s}`),
            h('span', { class: 'stage-size num' }, `${sc.healthy} / ${inStage.length} healthy`),
            stackedBar(sc, inStage.length),
          );
        }),
        h('div', { class: 'legend' }, ...BUCKETS.map(([b]) => h('span', {}, h('i', { class: `seg ${b}` }), b))),
      ),
      h(
        'div',
        { class: 'panel' },
        h('h2', {}, 'Devices'),
        h(
          'table',
          { class: 'rollout-devices' },
          h('thead', {}, h('tr', {}, h('th', {}, 'Device'), h('th', { class: 'num' }, 'Stage'), h('th', {}, 'State'), h('th', {}, 'Candidate'), h('th', { class: 'num' }, 'FPS'), h('th', {}, 'SLO'), h('th', {}, 'Why'))),
          h(
            'tbody',
            {},
            ...r.devices.map((d) =>
              h(
                'tr',
                { 'data-device': d.deviceId, 'data-state': d.state },
                h('td', {}, h('a', { href: `#/device/${encodeURIComponent(d.deviceId)}` }, d.deviceId)),
                h('td', { class: 'num' }, String(d.stage)),
                h('td', {}, h('span', { class: `state ${bucketOf(d.state)}` }, d.state)),
                h('td', { class: 'mono' }, d.candidate ? `${d.candidate}${d.ep ? ` on ${d.ep}` : ''}` : '–'),
                fpsCell(d),
                h('td', {}, d.slo ? (d.slo.met ? 'met' : `missed: ${d.slo.violations.join(', ')}`) : '–'),
                h('td', { class: 'why', title: d.error ?? d.explanation ?? '' }, clip(d.error ?? d.explanation ?? '–', 260)),
              ),
            ),
          ),
        ),
      ),
      checkPanel(r),
      predictionPanel(r),
      r.events.length
        ? h(
            'div',
            { class: 'panel' },
            h('h2', {}, 'Recent transitions'),
            h('ol', { class: 'events' }, ...r.events.slice(-15).reverse().map((e) => h('li', {}, h('span', { class: 'muted' }, new Date(e.at).toLocaleTimeString()), ` ${e.deviceId ?? 'rollout'}: ${e.from ?? '·'} → ${e.to}`, e.detail ? h('span', { class: 'muted', title: e.detail }, ` — ${clip(e.detail, 160)}`) : ''))),
          )
        : '',
    );
  }

  private async act(id: string, action: 'pause' | 'resume' | 'abort'): Promise<void> {
    if (action === 'abort' && !window.confirm(`Abort rollout ${id}?`)) return;
    try {
      this.renderOne(await api<RolloutStatus>(`/api/rollouts/${encodeURIComponent(id)}/${action}`, { method: 'POST', body: '{}' }));
    } catch (err) {
      window.alert(`${action} failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
}
