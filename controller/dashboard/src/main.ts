import { DeviceView } from './device-view.js';
import { h, setText } from './dom.js';
import { FleetView } from './fleet-view.js';
import { connectLive, type ConnectionState } from './live.js';
import { RolloutFeed } from './rollout-feed.js';
import { RolloutsView } from './rollouts-view.js';
import { FleetStore } from './store.js';
import { tokenPrompt } from './token-prompt.js';
import { adoptTokenFromHash, token } from './token.js';

interface View {
  root: HTMLElement;
  destroy(): void;
}

const main = document.getElementById('view')!;
const connEl = document.getElementById('conn')!;
const summaryEl = document.getElementById('summary')!;
const store = new FleetStore();
const rollouts = new RolloutFeed();
let fleet: FleetView | null = null;
let current: View | null = null;
let disconnect: (() => void) | null = null;

const CONNECTION_TEXT: Record<ConnectionState, string> = { connecting: 'connecting…', live: 'live', reconnecting: 'reconnecting…', unauthorized: 'no access' };

function onConnection(state: ConnectionState): void {
  connEl.dataset.state = state;
  setText(connEl, CONNECTION_TEXT[state]);
  if (state === 'unauthorized') showPrompt(token() !== null);
}

function showPrompt(refused: boolean): void {
  disconnect?.();
  disconnect = null;
  current?.destroy();
  current = null;
  fleet?.destroy();
  fleet = null;
  document.body.dataset.view = 'token';
  main.replaceChildren(tokenPrompt(refused, start));
}

function route(): void {
  if (!disconnect) return;
  const hash = decodeURIComponent(location.hash.replace(/^#\/?/, ''));
  const [section, ...rest] = hash.split('/');
  if (current && current !== fleet) current.destroy();
  let view: View;
  if (section === 'device' && rest.length) view = new DeviceView(store, rest.join('/'));
  else if (section === 'rollouts') view = new RolloutsView(rest.join('/') || null, store, rollouts);
  else view = fleet ??= new FleetView(store, (id) => (location.hash = `#/device/${encodeURIComponent(id)}`));
  current = view;
  document.body.dataset.view = section === 'device' || section === 'rollouts' ? section : 'fleet';
  for (const a of document.querySelectorAll<HTMLAnchorElement>('[data-nav]')) a.classList.toggle('active', a.dataset.nav === (section === 'rollouts' ? 'rollouts' : 'fleet'));
  main.replaceChildren(view.root);
}

function summarize(): void {
  let online = 0;
  let serving = 0;
  let attention = 0;
  for (const d of store.devices.values()) {
    if (d.online) online++;
    if (d.fps !== null) serving++;
    if (d.health === 'warning' || d.health === 'failing') attention++;
  }
  const total = store.devices.size;
  summaryEl.replaceChildren(
    ...[
      [total, 'devices', ''],
      [online, 'online', 'ok'],
      [total - online, 'offline', 'muted'],
      [serving, 'serving', ''],
      [attention, 'need attention', attention ? 'warn' : 'muted'],
    ].map(([n, label, cls]) => h('span', { class: `sum ${cls}` }, h('b', {}, Number(n).toLocaleString()), ` ${label}`)),
  );
}

function start(): void {
  disconnect?.();
  disconnect = connectLive(store, rollouts, onConnection);
  route();
}

adoptTokenFromHash();
window.addEventListener('hashchange', () => {
  adoptTokenFromHash();
  route();
});
let summaryDue = false;
store.subscribe(() => {
  if (summaryDue) return;
  summaryDue = true;
  window.setTimeout(() => {
    summaryDue = false;
    summarize();
  }, 500);
});
if (token()) start();
else showPrompt(false);
