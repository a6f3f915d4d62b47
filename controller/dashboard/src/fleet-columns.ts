import type { LiveDevice, Sample } from '../../live/wire.js';
import { SPARKLINE_WINDOW_MS } from '../../live/wire.js';
import { h, setAttr, setText } from './dom.js';
import { ago, labels, mb, num, NONE } from './format.js';
import { actionButtons } from './device-actions.js';
import { drawSparkline } from './sparkline.js';

// The fleet table, one object per column: its key, header, width, the window
// widths below which it hides, how it sorts and how it fills its cell. The
// view finds cells by key and the grid's CSS is generated from this list
// (fleet-table-css.ts), so a new column is one entry here.

export type ColumnKey = 'status' | 'id' | 'class' | 'labels' | 'lastSeen' | 'candidate' | 'fps' | 'appFps' | 'dropped' | 'spark' | 'p95' | 'memory' | 'temp' | 'throttled' | 'health' | 'actions';

/** Window widths (px) below which columns may hide: a laptop window drops what the device view repeats before the table scrolls sideways. */
export const BREAKPOINTS = [1440, 1100] as const;
export type Breakpoint = (typeof BREAKPOINTS)[number];

/** A grid track and the least it takes (what the table's minimum width adds up). */
export interface Width {
  track: string;
  minPx: number;
}
export const fixed = (px: number): Width => ({ track: `${px}px`, minPx: px });
export const flexible = (minPx: number, fr: number): Width => ({ track: `minmax(${minPx}px, ${fr}fr)`, minPx });

/** What a cell may need besides its device: the (server-aligned) clock and the device's FPS samples. */
export interface CellContext {
  now: number;
  sparkline: readonly Sample[];
}

export interface Column {
  key: ColumnKey;
  title: string;
  width: Width;
  /** Hidden in windows narrower than this. */
  hideBelow?: Breakpoint;
  /** Extra classes of the head and row cells ('num' right-aligns with tabular figures), or of each apart. */
  cls?: string;
  headCls?: string;
  rowCls?: string;
  /** The value sorted on; null sorts last in both directions. */
  value: (d: LiveDevice) => string | number | null;
  /** Sorting starts descending for numbers people look for the top of. */
  descFirst?: boolean;
  /** Builds what a row's cell keeps whatever device it shows (the sparkline's canvas). */
  create?: (cell: HTMLDivElement) => void;
  /** Fills the cell for a device: when the row shows another device, or a new state of it. */
  render?: (cell: HTMLDivElement, d: LiveDevice) => void;
  /** On every draw: what moves without a message (ages, the sparkline's window). */
  tick?: (cell: HTMLDivElement, d: LiveDevice, ctx: CellContext) => void;
}

const HEALTH_RANK = { failing: 0, warning: 1, offline: 2, idle: 3, ok: 4 } as const;
const SPARK_WIDTH = 112;
const SPARK_HEIGHT = 24;
const SPARK_COLOR = { ok: '#3fb950', warning: '#d29922', failing: '#f85149', idle: '#8b97a6', offline: '#6e7681' } as const;
/** The sparkline each canvas shows (device, health, its latest sample, a 5 s tick): redrawn only when that changes. */
const drawnSpark = new WeakMap<HTMLCanvasElement, string>();

export const COLUMNS: Column[] = [
  {
    key: 'status',
    title: 'Status',
    width: fixed(92),
    value: (d) => (d.online ? 0 : 1),
    render: (c, d) => c.replaceChildren(h('span', { class: `dot ${d.online ? 'on' : 'off'}` }), d.online ? 'online' : 'offline'),
  },
  {
    key: 'id',
    title: 'Device',
    width: flexible(170, 1.6),
    value: (d) => d.id,
    render: (c, d) => {
      c.replaceChildren(h('span', { class: 'name' }, d.id), h('span', { class: 'hw' }, d.hardware ?? ''));
      setAttr(c, 'title', d.hardware ? `${d.id} — ${d.hardware}` : d.id);
    },
  },
  {
    key: 'class',
    title: 'Class',
    width: fixed(84),
    hideBelow: 1440,
    value: (d) => d.deviceClass,
    render: (c, d) => {
      setText(c, d.deviceClass ? d.deviceClass.slice(0, 8) : '–');
      setAttr(c, 'title', d.deviceClass ?? 'not reported yet');
    },
  },
  {
    key: 'labels',
    title: 'Labels',
    width: flexible(120, 1.2),
    hideBelow: 1440,
    value: (d) => labels(d.labels).join(' ') || null,
    render: (c, d) => {
      const chips = labels(d.labels);
      c.replaceChildren(...chips.map((l) => h('span', { class: 'chip' }, l)));
      setAttr(c, 'title', chips.join(', '));
    },
  },
  {
    key: 'lastSeen',
    title: 'Last seen',
    width: fixed(92),
    hideBelow: 1440,
    value: (d) => d.lastSeen,
    descFirst: true,
    tick: (c, d, { now }) => setText(c, ago(d.lastSeen, now)),
  },
  {
    key: 'candidate',
    title: 'Candidate',
    width: flexible(130, 1),
    value: (d) => d.candidate,
    render: (c, d) => setText(c, d.candidate ? `${d.candidate}${d.ep ? ` on ${d.ep}` : ''}` : '–'),
  },
  { key: 'fps', title: 'FPS', width: fixed(64), cls: 'num', value: (d) => d.fps, descFirst: true, render: (c, d) => setText(c, num(d.fps, 1)) },
  {
    key: 'appFps',
    title: 'App FPS',
    width: fixed(76),
    hideBelow: 1440,
    cls: 'num',
    // what the user's application reports of itself (hand-off mode), apart from the agent's own serving
    value: (d) => d.app?.fps ?? null,
    descFirst: true,
    render: (c, d) => {
      setText(c, d.app ? num(d.app.fps, 1) : NONE);
      setAttr(c, 'title', d.app ? `the application's own report, ${d.app.ageS} s old` : 'no application reports (hand-off mode)');
    },
  },
  {
    key: 'dropped',
    title: 'Dropped',
    width: fixed(76),
    hideBelow: 1440,
    cls: 'num',
    // frames the source replaced before inference took them (latest frame wins), over about the last second
    value: (d) => d.source?.droppedFrames ?? null,
    descFirst: true,
    render: (c, d) => {
      const s = d.source;
      setText(c, s?.droppedFrames == null ? NONE : String(s.droppedFrames));
      setAttr(c, 'title', s ? `${s.droppedFrames ?? NONE} frame(s) dropped in the last second, ${s.droppedTotal ?? NONE} since the source opened` : 'no frame source reported');
    },
  },
  {
    key: 'spark',
    title: 'Last 5 min',
    width: fixed(128),
    hideBelow: 1100,
    headCls: 'spark-head',
    rowCls: 'spark',
    value: (d) => d.fps,
    descFirst: true,
    create: (c) => {
      const canvas = h('canvas', { class: 'sparkline' });
      canvas.style.width = `${SPARK_WIDTH}px`;
      canvas.style.height = `${SPARK_HEIGHT}px`;
      c.append(canvas);
    },
    tick: (c, d, { now, sparkline }) => {
      const canvas = c.firstElementChild as HTMLCanvasElement;
      const last = sparkline[sparkline.length - 1];
      const key = `${d.id}|${d.health}|${sparkline.length}|${last?.[0] ?? 0}|${Math.floor(now / 5000)}`;
      if (drawnSpark.get(canvas) === key) return;
      drawnSpark.set(canvas, key);
      drawSparkline(canvas, SPARK_WIDTH, SPARK_HEIGHT, sparkline, now, SPARKLINE_WINDOW_MS, SPARK_COLOR[d.health]);
    },
  },
  { key: 'p95', title: 'p95 ms', width: fixed(72), cls: 'num', value: (d) => d.latencyP95Ms, descFirst: true, render: (c, d) => setText(c, num(d.latencyP95Ms, 1)) },
  { key: 'memory', title: 'Memory', width: fixed(84), cls: 'num', value: (d) => d.memoryMb ?? d.deviceMemUsedMb, descFirst: true, render: (c, d) => setText(c, memoryText(d)) },
  {
    key: 'temp',
    title: 'Temp',
    width: fixed(64),
    cls: 'num',
    value: (d) => d.temperatureC,
    descFirst: true,
    render: (c, d) => {
      setText(c, d.temperatureC === null ? '–' : `${d.temperatureC.toFixed(0)} °C`);
      setAttr(c, 'data-hot', String(d.temperatureC !== null && d.temperatureC >= 80));
    },
  },
  {
    key: 'throttled',
    title: 'Throttled',
    width: fixed(92),
    value: (d) => (d.throttled === null ? null : d.throttled ? 0 : 1),
    render: (c, d) => {
      setText(c, d.throttled === null ? '–' : d.throttled ? 'yes' : 'no');
      setAttr(c, 'data-bad', String(d.throttled === true));
    },
  },
  {
    key: 'health',
    title: 'Health',
    width: flexible(150, 1.4),
    value: (d) => HEALTH_RANK[d.health],
    render: (c, d) => {
      c.replaceChildren(h('span', { class: `pill ${d.health}` }, d.health), d.healthReason ? h('span', { class: 'reason' }, d.healthReason) : '');
      setAttr(c, 'title', d.healthReason || d.health);
    },
  },
  {
    // rotate the token, remove the device; narrower windows have them in the device view
    key: 'actions',
    title: 'Actions',
    width: fixed(56),
    hideBelow: 1440,
    rowCls: 'row-actions',
    value: () => null,
    create: (c) => c.append(...actionButtons(() => c.dataset.device, true)),
    render: (c, d) => setAttr(c, 'data-device', d.id),
  },
];

export function columnByKey(key: ColumnKey): Column {
  const column = COLUMNS.find((c) => c.key === key);
  if (!column) throw new Error(`no fleet column '${key}'`);
  return column;
}

/** The classes of a column's cells, in the head (`head`) or a row. */
export function cellClass(column: Column, head: boolean): string {
  return ['cell', column.cls, head ? column.headCls : column.rowCls, column.hideBelow && `hide-below-${column.hideBelow}`].filter(Boolean).join(' ');
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

export function memoryText(d: LiveDevice): string {
  if (d.memoryMb !== null) return mb(d.memoryMb);
  if (d.deviceMemUsedMb !== null && d.deviceMemTotalMb) return `${Math.round((d.deviceMemUsedMb / d.deviceMemTotalMb) * 100)} % host`;
  return NONE;
}
