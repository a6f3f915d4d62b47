import type { LiveDevice } from '../../live/wire.js';
import { labels } from './format.js';

// What the fleet table's toolbar keeps: the status filter and the search words.

export type StatusFilter = 'all' | 'online' | 'offline' | 'serving' | 'attention' | 'throttled';

export const STATUS_FILTERS: Array<[StatusFilter, string]> = [
  ['all', 'All devices'],
  ['online', 'Online'],
  ['offline', 'Offline'],
  ['serving', 'Serving'],
  ['attention', 'Needs attention'],
  ['throttled', 'Throttled'],
];

export function matchesStatus(d: LiveDevice, filter: StatusFilter): boolean {
  switch (filter) {
    case 'all':
      return true;
    case 'online':
      return d.online;
    case 'offline':
      return !d.online;
    case 'serving':
      return d.fps !== null;
    case 'attention':
      return d.health === 'warning' || d.health === 'failing';
    case 'throttled':
      return d.throttled === true;
  }
}

/** Every word of the query must appear in the device's id, class, hardware, labels, candidate or health. */
export function matchesQuery(d: LiveDevice, words: string[]): boolean {
  if (words.length === 0) return true;
  const hay = [d.id, d.deviceClass ?? '', d.hardware ?? '', d.candidate ?? '', d.ep ?? '', d.health, d.healthReason, ...labels(d.labels)].join(' ').toLowerCase();
  return words.every((w) => hay.includes(w));
}
