import type { Sample } from './wire.js';

/**
 * A fixed-size ring of (time, value) samples, at most one per `spacingMs`
 * bucket of time (a later sample in the same bucket replaces the earlier), so
 * a chatty device cannot push history out of the window faster than the
 * spacing allows; memory stays capacity × 16 B.
 */
export class SampleRing {
  private readonly t: Float64Array;
  private readonly v: Float64Array;
  private start = 0;
  private size = 0;

  constructor(
    readonly capacity: number,
    readonly spacingMs: number,
  ) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`ring capacity must be a positive integer, got ${capacity}`);
    this.t = new Float64Array(capacity);
    this.v = new Float64Array(capacity);
  }

  get length(): number {
    return this.size;
  }

  push(time: number, value: number): void {
    if (!Number.isFinite(time) || !Number.isFinite(value)) return;
    if (this.size > 0) {
      const last = (this.start + this.size - 1) % this.capacity;
      if (time < this.t[last]) return;
      if (this.spacingMs > 0 && Math.floor(time / this.spacingMs) === Math.floor(this.t[last] / this.spacingMs)) {
        this.t[last] = time;
        this.v[last] = value;
        return;
      }
    }
    if (this.size < this.capacity) {
      const at = (this.start + this.size) % this.capacity;
      this.t[at] = time;
      this.v[at] = value;
      this.size++;
    } else {
      this.t[this.start] = time;
      this.v[this.start] = value;
      this.start = (this.start + 1) % this.capacity;
    }
  }

  latest(): Sample | null {
    if (this.size === 0) return null;
    const last = (this.start + this.size - 1) % this.capacity;
    return [this.t[last], this.v[last]];
  }

  /** Samples at or after `since`, oldest first, thinned evenly to at most `maxPoints` (the newest always kept). */
  since(since: number, maxPoints = Infinity): Sample[] {
    const picked: Sample[] = [];
    for (let i = 0; i < this.size; i++) {
      const at = (this.start + i) % this.capacity;
      if (this.t[at] >= since) picked.push([this.t[at], this.v[at]]);
    }
    if (picked.length <= maxPoints) return picked;
    const out: Sample[] = [];
    const step = (picked.length - 1) / (maxPoints - 1);
    for (let i = 0; i < maxPoints; i++) out.push(picked[Math.round(i * step)]);
    return out;
  }
}
