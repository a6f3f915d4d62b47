import type { LiveDevice } from '../../live/wire.js';
import { DEVICE_REMOVED } from './device-actions.js';
import { h, setAttr, setText } from './dom.js';
import { cellClass, columnByKey, COLUMNS, compareBy, type Column, type ColumnKey } from './fleet-columns.js';
import { STATUS_FILTERS, matchesQuery, matchesStatus, type StatusFilter } from './fleet-filter.js';
import { fleetTableCss } from './fleet-table-css.js';
import { measure, type FleetStore } from './store.js';

const ROW_HEIGHT = 36;
/** Rows drawn above and below the visible ones, so a fast scroll shows no blank band. */
const OVERSCAN = 8;
/** Live data redraws at most this often; scrolling redraws every frame. */
const DATA_REDRAW_MS = 250;

interface RowView {
  el: HTMLDivElement;
  /** The row's cells by column key. */
  cells: Record<ColumnKey, HTMLDivElement>;
  device: LiveDevice | null;
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
  private readonly headCells = new Map<ColumnKey, HTMLDivElement>();
  private readonly pool: RowView[] = [];
  private order: LiveDevice[] = [];
  private sortColumn: Column = columnByKey('id');
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
      const cell = h('div', { class: cellClass(column, true), role: 'columnheader', 'data-key': column.key, title: `Sort by ${column.title}` }, column.title);
      cell.addEventListener('click', () => this.sortBy(column));
      this.headCells.set(column.key, cell);
      head.append(cell);
    }
    // The grid's tracks, minimum width and hiding rules come from the column list.
    if (!document.getElementById('fleet-columns-css')) document.head.append(h('style', { id: 'fleet-columns-css' }, fleetTableCss(COLUMNS)));
    this.spacer = h('div', { class: 'spacer' });
    this.viewport = h('div', { class: 'viewport', role: 'rowgroup' }, this.spacer);
    this.viewport.addEventListener('scroll', () => this.invalidate(false, true), { passive: true });
    this.root = h('section', { class: 'fleet' }, h('div', { class: 'toolbar' }, search, select, this.countEl), h('div', { class: 'table', role: 'grid' }, head, this.viewport));
    this.unsubscribe = store.subscribe(() => this.invalidate(true, false));
    this.root.addEventListener(DEVICE_REMOVED, (e) => store.forget((e as CustomEvent<string>).detail));
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
    for (const column of COLUMNS) setAttr(this.headCells.get(column.key)!, 'aria-sort', column === this.sortColumn ? (this.descending ? 'descending' : 'ascending') : 'none');
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
    const cells = {} as Record<ColumnKey, HTMLDivElement>;
    for (const column of COLUMNS) {
      const cell = h('div', { class: cellClass(column, false), role: 'gridcell', 'data-key': column.key });
      column.create?.(cell);
      cells[column.key] = cell;
    }
    const el = h('div', { class: 'grid-row', role: 'row', tabindex: 0 }, ...COLUMNS.map((column) => cells[column.key]));
    const row: RowView = { el, cells, device: null };
    el.addEventListener('click', () => row.device && this.open(row.device.id));
    el.addEventListener('keydown', (e) => e.key === 'Enter' && row.device && this.open(row.device.id));
    this.spacer.append(el);
    this.pool.push(row);
    return row;
  }

  private fill(row: RowView, d: LiveDevice, now: number): void {
    const ctx = { now, sparkline: this.store.sparklines.get(d.id) ?? [] };
    for (const column of COLUMNS) column.tick?.(row.cells[column.key], d, ctx);
    if (row.device === d) return;
    row.device = d;
    setAttr(row.el, 'data-id', d.id);
    setAttr(row.el, 'data-health', d.health);
    for (const column of COLUMNS) column.render?.(row.cells[column.key], d);
  }
}
