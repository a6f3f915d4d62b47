import type { LiveDevice } from '../../live/wire.js';
import { SPARKLINE_WINDOW_MS } from '../../live/wire.js';
import { h, setAttr, setText } from './dom.js';
import { cellClass, COLUMNS, STATUS_FILTERS, compareBy, lastSeenText, matchesQuery, matchesStatus, memoryText, type Column, type StatusFilter } from './fleet-columns.js';
import { labels, num } from './format.js';
import { drawSparkline } from './sparkline.js';
import { measure, type FleetStore } from './store.js';

const ROW_HEIGHT = 36;
const SPARK_WIDTH = 112;
const SPARK_HEIGHT = 24;
/** Rows drawn above and below the visible ones, so a fast scroll shows no blank band. */
const OVERSCAN = 8;
/** Live data redraws at most this often; scrolling redraws every frame. */
const DATA_REDRAW_MS = 250;
const SPARK_COLOR = { ok: '#3fb950', warning: '#d29922', failing: '#f85149', idle: '#8b97a6', offline: '#6e7681' } as const;

interface RowView {
  el: HTMLDivElement;
  cells: HTMLDivElement[];
  canvas: HTMLCanvasElement;
  device: LiveDevice | null;
  /** The sparkline last drawn: its latest sample time and length. */
  spark: string;
}

/**
 * The fleet table: one row per device, sorted and filtered, virtualized (only
 * the rows in view exist in the DOM, reused as the list scrolls), redrawn on
 * live batches at most every 250 ms.
 */
export class FleetView {
  readonly root: HTMLElement;
  private readonly viewport: HTMLDivElement;
  private readonly spacer: HTMLDivElement;
  private readonly countEl: HTMLSpanElement;
  private readonly headCells: HTMLDivElement[] = [];
  private readonly pool: RowView[] = [];
  private order: LiveDevice[] = [];
  private sortColumn: Column = COLUMNS[1];
  private descending = false;
  private query: string[] = [];
  private status: StatusFilter = 'all';
  private reorder = true;
  private timer: number | undefined;
  private frame = 0;
  private lastDraw = 0;
  private readonly unsubscribe: () => void;
  private readonly clock: number;
  private readonly resize: ResizeObserver;

  constructor(
    private readonly store: FleetStore,
    private readonly open: (id: string) => void,
  ) {
    const search = h('input', { type: 'search', class: 'search', placeholder: 'Filter by name, class, label, candidate…', 'aria-label': 'Filter devices' });
    search.addEventListener('input', () => {
      this.query = search.value.toLowerCase().split(/\s+/).filter(Boolean);
      this.invalidate(true, true);
    });
    const select = h('select', { class: 'status-filter', 'aria-label': 'Status filter' }, ...STATUS_FILTERS.map(([value, text]) => h('option', { value }, text)));
    select.addEventListener('change', () => {
      this.status = select.value as StatusFilter;
      this.invalidate(true, true);
    });
    this.countEl = h('span', { class: 'count' });
    const head = h('div', { class: 'grid-row head', role: 'row' });
    for (const column of COLUMNS) {
      const cell = h('div', { class: cellClass(column, true), role: 'columnheader', title: `Sort by ${column.title}` }, column.title);
      cell.addEventListener('click', () => this.sortBy(column));
      this.headCells.push(cell);
      head.append(cell);
    }
    this.spacer = h('div', { class: 'spacer' });
    this.viewport = h('div', { class: 'viewport', role: 'rowgroup' }, this.spacer);
    this.viewport.addEventListener('scroll', () => this.invalidate(false, true), { passive: true });
    this.root = h('section', { class: 'fleet' }, h('div', { class: 'toolbar' }, search, select, this.countEl), h('div', { class: 'table', role: 'grid' }, head, this.viewport));
    this.unsubscribe = store.subscribe(() => this.invalidate(true, false));
    // "Last seen" ages move even when no message does.
    this.clock = window.setInterval(() => this.invalidate(false, false), 1000);
    this.resize = new ResizeObserver(() => this.invalidate(false, true));
    this.resize.observe(this.viewport);
    this.markSort();
    this.invalidate(true, true);
  }

  destroy(): void {
    this.unsubscribe();
    this.resize.disconnect();
    window.clearInterval(this.clock);
    window.clearTimeout(this.timer);
    cancelAnimationFrame(this.frame);
  }

  /** Scrolls the row of `id` into view; false when the filter hides it. */
  reveal(id: string): boolean {
    const index = this.order.findIndex((d) => d.id === id);
    if (index < 0) return false;
    this.viewport.scrollTop = index * ROW_HEIGHT - this.viewport.clientHeight / 2;
    return true;
  }

  private sortBy(column: Column): void {
    if (this.sortColumn === column) this.descending = !this.descending;
    else {
      this.sortColumn = column;
      this.descending = column.descFirst ?? false;
    }
    this.markSort();
    this.invalidate(true, true);
  }

  private markSort(): void {
    COLUMNS.forEach((column, i) => setAttr(this.headCells[i], 'aria-sort', column === this.sortColumn ? (this.descending ? 'descending' : 'ascending') : 'none'));
  }

  private invalidate(reorder: boolean, now: boolean): void {
    this.reorder ||= reorder;
    if (now) {
      window.clearTimeout(this.timer);
      this.timer = undefined;
      if (!this.frame) this.frame = requestAnimationFrame(() => this.draw());
      return;
    }
    if (this.timer !== undefined || this.frame) return;
    const wait = Math.max(0, DATA_REDRAW_MS - (performance.now() - this.lastDraw));
    this.timer = window.setTimeout(() => {
      this.timer = undefined;
      this.frame = requestAnimationFrame(() => this.draw());
    }, wait);
  }

  private draw(): void {
    this.frame = 0;
    const start = performance.now();
    this.lastDraw = start;
    if (this.reorder) {
      this.reorder = false;
      const rows: LiveDevice[] = [];
      for (const d of this.store.devices.values()) if (matchesStatus(d, this.status) && matchesQuery(d, this.query)) rows.push(d);
      rows.sort(compareBy(this.sortColumn, this.descending));
      this.order = rows;
      this.spacer.style.height = `${rows.length * ROW_HEIGHT}px`;
      setText(this.countEl, `${rows.length.toLocaleString()} of ${this.store.devices.size.toLocaleString()} devices`);
    }
    const first = Math.max(0, Math.floor(this.viewport.scrollTop / ROW_HEIGHT) - OVERSCAN);
    const last = Math.min(this.order.length, Math.ceil((this.viewport.scrollTop + this.viewport.clientHeight) / ROW_HEIGHT) + OVERSCAN);
    const now = this.store.now();
    let used = 0;
    for (let i = first; i < last; i++, used++) {
      const row = this.pool[used] ?? this.newRow();
      row.el.style.transform = `translateY(${i * ROW_HEIGHT}px)`;
      row.el.hidden = false;
      this.fill(row, this.order[i], now);
    }
    for (let i = used; i < this.pool.length; i++) this.pool[i].el.hidden = true;
    measure('edgefit:render', start, { rows: used, devices: this.order.length });
  }

  private newRow(): RowView {
    const cells = COLUMNS.map((column) => h('div', { class: cellClass(column, false), role: 'gridcell' }));
    const canvas = h('canvas', { class: 'sparkline' });
    canvas.style.width = `${SPARK_WIDTH}px`;
    canvas.style.height = `${SPARK_HEIGHT}px`;
    cells[7].append(canvas);
    const el = h('div', { class: 'grid-row', role: 'row', tabindex: 0 }, ...cells);
    const row: RowView = { el, cells, canvas, device: null, spark: '' };
    el.addEventListener('click', () => row.device && this.open(row.device.id));
    el.addEventListener('keydown', (e) => e.key === 'Enter' && row.device && this.open(row.device.id));
    this.spacer.append(el);
    this.pool.push(row);
    return row;
  }

  private fill(row: RowView, d: LiveDevice, now: number): void {
    const c = row.cells;
    setText(c[4], lastSeenText(d, now));
    const sparkLine = this.store.sparklines.get(d.id) ?? [];
    const lastSample = sparkLine[sparkLine.length - 1];
    const sparkKey = `${d.id}|${d.health}|${sparkLine.length}|${lastSample?.[0] ?? 0}|${Math.floor(now / 5000)}`;
    if (row.spark !== sparkKey) {
      row.spark = sparkKey;
      drawSparkline(row.canvas, SPARK_WIDTH, SPARK_HEIGHT, sparkLine, now, SPARKLINE_WINDOW_MS, SPARK_COLOR[d.health]);
    }
    if (row.device === d) return;
    row.device = d;
    setAttr(row.el, 'data-id', d.id);
    setAttr(row.el, 'data-health', d.health);
    c[0].replaceChildren(h('span', { class: `dot ${d.online ? 'on' : 'off'}` }), d.online ? 'online' : 'offline');
    c[1].replaceChildren(h('span', { class: 'name' }, d.id), h('span', { class: 'hw' }, d.hardware ?? ''));
    setAttr(c[1], 'title', d.hardware ? `${d.id} — ${d.hardware}` : d.id);
    setText(c[2], d.deviceClass ? d.deviceClass.slice(0, 8) : '–');
    setAttr(c[2], 'title', d.deviceClass ?? 'not reported yet');
    const chips = labels(d.labels);
    c[3].replaceChildren(...chips.map((l) => h('span', { class: 'chip' }, l)));
    setAttr(c[3], 'title', chips.join(', '));
    setText(c[5], d.candidate ? `${d.candidate}${d.ep ? ` on ${d.ep}` : ''}` : '–');
    setText(c[6], num(d.fps, 1));
    setText(c[8], num(d.latencyP95Ms, 1));
    setText(c[9], memoryText(d));
    setText(c[10], d.temperatureC === null ? '–' : `${d.temperatureC.toFixed(0)} °C`);
    setAttr(c[10], 'data-hot', String(d.temperatureC !== null && d.temperatureC >= 80));
    setText(c[11], d.throttled === null ? '–' : d.throttled ? 'yes' : 'no');
    setAttr(c[11], 'data-bad', String(d.throttled === true));
    c[12].replaceChildren(h('span', { class: `pill ${d.health}` }, d.health), d.healthReason ? h('span', { class: 'reason' }, d.healthReason) : '');
    setAttr(c[12], 'title', d.healthReason || d.health);
  }
}
