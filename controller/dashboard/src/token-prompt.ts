import { api, Unauthorized } from './api.js';
import { h } from './dom.js';
import { clearToken, setToken } from './token.js';

/** The page to show without a working admin token: says where to find one, and checks it before going on. */
export function tokenPrompt(refused: boolean, onAccepted: () => void): HTMLElement {
  const input = h('input', { type: 'password', class: 'token-input', placeholder: 'admin token', autocomplete: 'off', 'aria-label': 'Admin token' });
  const error = h('p', { class: 'error', role: 'alert' }, refused ? 'The controller refused this token. It may have been rotated or mistyped.' : '');
  const form = h(
    'form',
    { class: 'token-card' },
    h('h1', {}, 'Admin token needed'),
    h('p', {}, 'Open the dashboard with the link ', h('code', {}, 'edgefit up'), ' prints (it ends in ', h('code', {}, '#token=…'), '), or paste the token from ', h('code', {}, '<data dir>/admin.token'), '.'),
    input,
    h('button', { type: 'submit' }, 'Open dashboard'),
    error,
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    if (!input.value.trim()) return;
    setToken(input.value);
    error.textContent = 'Checking…';
    api('/api/live/session').then(onAccepted, (err: unknown) => {
      clearToken();
      error.textContent = err instanceof Unauthorized ? 'The controller refused this token.' : `Cannot reach the controller: ${err instanceof Error ? err.message : String(err)}`;
    });
  });
  queueMicrotask(() => input.focus());
  return h('div', { class: 'token-page' }, form);
}
