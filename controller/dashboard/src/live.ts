import type { LiveBatch, LiveSnapshot, RolloutsBatch } from '../../live/wire.js';
import { api, Unauthorized } from './api.js';
import type { RolloutFeed } from './rollout-feed.js';
import { measure, type FleetStore } from './store.js';
import { token } from './token.js';

export type ConnectionState = 'connecting' | 'live' | 'reconnecting' | 'unauthorized';

/**
 * Opens the controller's event stream and feeds the store and the rollout feed. EventSource cannot
 * send headers, so the token goes as ?token=; it also hides the status code,
 * so after a failed connect one API call tells a wrong token from an outage.
 */
export function connectLive(store: FleetStore, rollouts: RolloutFeed, onState: (state: ConnectionState) => void): () => void {
  let source: EventSource | null = null;
  let retry: number | undefined;
  let closed = false;

  const open = () => {
    const current = token();
    if (!current) return onState('unauthorized');
    onState(source ? 'reconnecting' : 'connecting');
    source?.close();
    source = new EventSource(`/api/events?token=${encodeURIComponent(current)}`);
    source.addEventListener('snapshot', (event) => {
      const start = performance.now();
      const snapshot = JSON.parse((event as MessageEvent<string>).data) as LiveSnapshot;
      store.applySnapshot(snapshot);
      measure('edgefit:snapshot', start, { rows: snapshot.devices.length });
      onState('live');
      // Rollouts are pushed only as they change: whatever changed while disconnected is fetched.
      rollouts.resync();
    });
    source.addEventListener('devices', (event) => {
      const start = performance.now();
      const batch = JSON.parse((event as MessageEvent<string>).data) as LiveBatch;
      store.applyBatch(batch);
      measure('edgefit:apply', start, { rows: batch.devices.length });
    });
    source.addEventListener('rollouts', (event) => {
      rollouts.applyBatch(JSON.parse((event as MessageEvent<string>).data) as RolloutsBatch);
    });
    source.addEventListener('error', () => {
      if (closed || !source) return;
      if (source.readyState === EventSource.CONNECTING) return onState('reconnecting');
      // CLOSED: the browser gave up (a non-200 answer). Find out why, then retry or ask for a token.
      api('/api/live/session').then(
        () => schedule(),
        (err: unknown) => (err instanceof Unauthorized ? onState('unauthorized') : schedule()),
      );
    });
  };
  const schedule = () => {
    onState('reconnecting');
    window.clearTimeout(retry);
    retry = window.setTimeout(open, 2000);
  };

  open();
  return () => {
    closed = true;
    window.clearTimeout(retry);
    source?.close();
  };
}
