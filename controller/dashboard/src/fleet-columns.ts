import type { LiveDevice } from '../../live/wire.js';
import { ago, labels, mb, num, NONE } from './format.js';

export type SortKey = 'status' | 'id' | 'class' | 'labels' | 'lastSeen' | 'candidate' | 'fps' | 'p95' | 'memory' | 'temp' | 'throttled' | 'health';

export interface Column {
  key: SortKey;
  title: string;
  /** Extra class for the cells: 'num' right-aligns with tabular figures. */
  cls?: string;
  /** The value sorted on; null sorts last in both directions. */
  value: (d: LiveDevice) => string | number | null;
  /** Sorting starts descending for numbers people look for the top of. */
  descFirst?: boolean;
  /**
   * A narrower window hides it before the table scrolls sideways (style.css):
   * 1 below 1440 px, 2 below 1100 px as well. Only what the device view repeats.
   */
  drop?: 1 | 2;
}

const HEALTH_RANK = { failing: 0, warning: 1, offline: 2, idle: 3, ok: 4 } as const;

export const COLUMNS: Column[] = [
  { key: 'status', title: 'Status', value: (d) => (d.online ? 0 : 1) },
  { key: 'id', title: 'Device', value: (d) => d.id },
  { key: 'class', title: 'Class', value: (d) => d.deviceClass, drop: 1 },
  { key: 'labels', title: 'Labels', value: (d) => labels(d.labels).join(' ') || null, drop: 1 },
  { key: 'lastSeen', title: 'Last seen', value: (d) => d.lastSeen, descFirst: true, drop: 1 },
  { key: 'candidate', title: 'Candidate', value: (d) => d.candidate },
  { key: 'fps', title: 'FPS', cls: 'num', value: (d) => d.fps, descFirst: true },
  { key: 'fps', title: 'Last 5 min', cls: 'spark-head', value: (d) => d.fps, descFirst: true, drop: 2 },
  { key: 'p95', title: 'p95 ms', cls: 'num', value: (d) => d.latencyP95Ms, descFirst: true },
  { key: 'memory', title: 'Memory', cls: 'num', value: (d) => d.memoryMb ?? d.deviceMemUsedMb, descFirst: true },
  { key: 'temp', title: 'Temp', cls: 'num', value: (d) => d.temperatureC, descFirst: true },
  { key: 'throttled', title: 'Throttled', value: (d) => (d.throttled === null ? null : d.throttled ? 0 : 1) },
  { key: 'health', title: 'Health', value: (d) => HEALTH_RANK[d.health] },
];

/** The classes of a column's cells, in the head (`head`) or a row. */
export function cellClass(column: Column, head: boolean): string {
  const cls = !head && column.cls === 'spark-head' ? 'spark' : column.cls;
  return ['cell', cls, column.drop && `drop-${column.drop}`].filter(Boolean).join(' ');
}

/** Plain code-unit order: localeCompare costs microseconds a call, too much for a thousand rows several times a second. */
function order(x: string | number, y: string | number): number {
  if (typeof x === 'number' && typeof y === 'number') return x - y;
  return x < y ? -1 : x > y ? 1 : 0;
}

export function compareBy(column: Column, descending: boolean): (a: LiveDevice, b: LiveDevice) => number {
  return (a, b) => {
    const x = column.value(a);
    const y = column.value(b);
    if (x === null || y === null) return x === y ? order(a.id, b.id) : x === null ? 1 : -1;
    const o = order(x, y);
    return (descending ? -o : o) || order(a.id, b.id);
  };
}

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

export function memoryText(d: LiveDevice): string {
  if (d.memoryMb !== null) return mb(d.memoryMb);
  if (d.deviceMemUsedMb !== null && d.deviceMemTotalMb) return `${Math.round((d.deviceMemUsedMb / d.deviceMemTotalMb) * 100)} % host`;
  return NONE;
}

export function lastSeenText(d: LiveDevice, now: number): string {
  return ago(d.lastSeen, now);
}

export { num };
