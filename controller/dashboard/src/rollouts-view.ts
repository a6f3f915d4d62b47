import type { rolloutStatus } from '../../rollout/status.js';
import { api, ApiError } from './api.js';
import { h } from './dom.js';
import { ago, clip, num } from './format.js';

export type RolloutStatus = ReturnType<typeof rolloutStatus>;
type RolloutDeviceStatus = RolloutStatus['devices'][number];

/** The device states of a rollout in the buckets the dashboard counts. */
export const BUCKETS = [
  ['pending', ['pending']],
  ['profiling', ['profiling']],
  ['deploying', ['chosen', 'downloading', 'verifying', 'activating', 'health-check']],
  ['healthy', ['healthy']],
  ['failed', ['failed', 'rolled-back', 'timed-out']],
  ['offline', ['offline']],
] as const;
export type Bucket = (typeof BUCKETS)[number][0];

export function bucketOf(state: string): Bucket {
  return BUCKETS.find(([, states]) => (states as readonly string[]).includes(state))?.[0] ?? 'pending';
}

function counts(devices: readonly RolloutDeviceStatus[]): Record<Bucket, number> {
  const out = { pending: 0, profiling: 0, deploying: 0, healthy: 0, failed: 0, offline: 0 };
  for (const d of devices) out[bucketOf(d.state)]++;
  return out;
}

/** A bar split by bucket, widths proportional to counts. */
function stackedBar(c: Record<Bucket, number>, total: number): HTMLElement {
  return h('div', { class: 'stack' }, ...BUCKETS.filter(([b]) => c[b] > 0).map(([b]) => h('span', { class: `seg ${b}`, style: `width:${(c[b] / Math.max(1, total)) * 100}%`, title: `${c[b]} ${b}` })));
}

/** Polls this often while a rollout is on screen: rollout state lives in the controller's database, not in the live stream. */
const POLL_MS = 1000;

/** Rollouts: the list, or one rollout with its stages, counts, devices, events and pause/resume/abort. */
export class RolloutsView {
  readonly root: HTMLElement;
  private timer: number | undefined;
  private alive = true;

  constructor(private readonly selected: string | null) {
    this.root = h('section', { class: 'rollouts' }, h('div', { class: 'loading' }, 'Loading…'));
    void this.refresh();
  }

  destroy(): void {
    this.alive = false;
    window.clearTimeout(this.timer);
  }

  private async refresh(): Promise<void> {
    try {
      if (this.selected) this.renderOne(await api<RolloutStatus>(`/api/rollouts/${encodeURIComponent(this.selected)}`));
      else this.renderList((await api<{ rollouts: RolloutStatus[] }>('/api/rollouts')).rollouts);
    } catch (err) {
      if (!this.alive) return;
      const message = err instanceof ApiError && err.status === 404 && !this.selected ? 'This controller has no rollout API.' : err instanceof Error ? err.message : String(err);
      this.root.replaceChildren(h('h1', {}, 'Rollouts'), h('p', { class: 'error' }, message));
    }
    if (this.alive) this.timer = window.setTimeout(() => void this.refresh(), POLL_MS);
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
                h('td', { class: 'mono' }, d.candidate ?? '–'),
                h('td', { class: 'num' }, num(d.live?.fps ?? null, 1)),
                h('td', {}, d.slo ? (d.slo.met ? 'met' : `missed: ${d.slo.violations.join(', ')}`) : '–'),
                h('td', { class: 'why', title: d.error ?? d.explanation ?? '' }, clip(d.error ?? d.explanation ?? '–', 260)),
              ),
            ),
          ),
        ),
      ),
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
