import type { LiveBatch, LiveDevice, LiveSnapshot, Sample } from '../../live/wire.js';
import { SPARKLINE_WINDOW_MS } from '../../live/wire.js';

type Listener = (changed: ReadonlySet<string> | 'all') => void;

/** Keeps at most this many measures: user-timing entries are never dropped by the browser. */
const MAX_MEASURES = 200;

/**
 * The fleet as the page knows it: rows by device id and the last five minutes
 * of FPS per device. Batches are applied as they arrive (cheap map writes);
 * views are told which ids changed and redraw on their own schedule.
 */
export class FleetStore {
  readonly devices = new Map<string, LiveDevice>();
  readonly sparklines = new Map<string, Sample[]>();
  /** Server clock minus ours, so "last seen" ages are right on a skewed laptop. */
  clockOffsetMs = 0;
  batches = 0;
  private readonly listeners = new Set<Listener>();

  now(): number {
    return Date.now() + this.clockOffsetMs;
  }

  applySnapshot(snapshot: LiveSnapshot): void {
    this.clockOffsetMs = snapshot.serverTime - Date.now();
    this.devices.clear();
    this.sparklines.clear();
    for (const device of snapshot.devices) this.devices.set(device.id, device);
    for (const [id, samples] of Object.entries(snapshot.sparklines)) this.sparklines.set(id, samples);
    this.emit('all');
  }

  applyBatch(batch: LiveBatch): void {
    this.clockOffsetMs = batch.serverTime - Date.now();
    const changed = new Set<string>();
    const cutoff = batch.serverTime - SPARKLINE_WINDOW_MS;
    for (const device of batch.devices) {
      this.devices.set(device.id, device);
      changed.add(device.id);
      const sample = device.fpsSample;
      if (!sample) continue;
      let line = this.sparklines.get(device.id);
      if (!line) this.sparklines.set(device.id, (line = []));
      const last = line[line.length - 1];
      if (!last || sample[0] > last[0]) line.push(sample);
      else if (sample[0] === last[0]) line[line.length - 1] = sample;
      let drop = 0;
      while (drop < line.length && line[drop][0] < cutoff) drop++;
      if (drop) line.splice(0, drop);
    }
    this.batches++;
    this.emit(changed);
  }

  /** A device removed from this page: gone from the table at once, before any snapshot says so. */
  forget(id: string): void {
    if (!this.devices.delete(id)) return;
    this.sparklines.delete(id);
    this.emit('all');
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(changed: ReadonlySet<string> | 'all'): void {
    for (const listener of this.listeners) listener(changed);
  }
}

/** Records one named duration for tooling (and the dashboard test) to read back. */
export function measure(name: string, start: number, detail: Record<string, number>): void {
  performance.measure(name, { start, end: performance.now(), detail });
  if (performance.getEntriesByName(name, 'measure').length > MAX_MEASURES) performance.clearMeasures(name);
}
