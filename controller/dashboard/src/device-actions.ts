import { api } from './api.js';
import { h } from './dom.js';

// A device's lifecycle from the dashboard: a new token, and removal. Both ask
// first, as aborting a rollout does; the new token is shown once, in a
// prompt to copy it from, as `devices rotate-token` prints it once.

/** Fired (bubbling) on the element whose button removed a device, with its id: views drop it at once. */
export const DEVICE_REMOVED = 'edgefit:device-removed';

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

/** Asks, then removes the device; true once it is removed. */
export async function removeDevice(id: string): Promise<boolean> {
  if (!window.confirm(`Remove device ${id}? Its token is refused from now on, its broker credentials and retained topics are deleted; its history is kept.`)) return false;
  try {
    const result = await api<{ note?: string }>(`/api/devices/${encodeURIComponent(id)}`, { method: 'DELETE' });
    if (result.note) window.alert(`${id} removed. ${result.note}`);
    return true;
  } catch (err) {
    window.alert(`remove failed: ${message(err)}`);
    return false;
  }
}

/** Asks, then gives the device a new token and shows it once. */
export async function rotateToken(id: string): Promise<void> {
  if (!window.confirm(`Give ${id} a new token? The old one is refused at once: its agent needs the new one (written to its --token-file, or a restart with it).`)) return;
  try {
    const result = await api<{ token: string; note?: string }>(`/api/devices/${encodeURIComponent(id)}/token`, { method: 'POST', body: '{}' });
    window.prompt(`New token for ${id}, shown only now: copy it.${result.note ? ` ${result.note}` : ''}`, result.token);
  } catch (err) {
    window.alert(`rotate token failed: ${message(err)}`);
  }
}

/**
 * The two buttons; `id()` names the device at click time (a fleet row shows
 * another device as the list scrolls). Clicks and keys stay off the row,
 * which opens the device view.
 */
export function actionButtons(id: () => string | undefined, compact: boolean): HTMLElement[] {
  const button = (action: 'rotate' | 'remove', label: string, run: (target: HTMLElement, device: string) => Promise<void>) => {
    const el = h('button', { type: 'button', class: `${compact ? 'row-action' : 'action'} ${action}`, 'data-action': action, title: label, 'aria-label': label }, compact ? (action === 'rotate' ? '⟳' : '✕') : label);
    el.addEventListener('click', (e) => {
      e.stopPropagation();
      const device = id();
      if (device) void run(el, device);
    });
    el.addEventListener('keydown', (e) => e.stopPropagation());
    return el;
  };
  return [
    button('rotate', 'Rotate token', (_, device) => rotateToken(device)),
    button('remove', 'Remove device', async (el, device) => {
      if (await removeDevice(device)) el.dispatchEvent(new CustomEvent(DEVICE_REMOVED, { bubbles: true, detail: device }));
    }),
  ];
}
