import type { Reported, Telemetry } from '../../protocol/messages.js';
import type { Device, Registry } from '../registry.js';
import { deviceRow, type ServingState } from './device-row.js';
import { SampleRing } from './sample-ring.js';
import { SPARKLINE_WINDOW_MS, type DeviceHistory, type LiveBatch, type LiveDevice, type LiveSnapshot } from './wire.js';

/** Device-view history: 30 minutes at one sample per 2 s, 14 KB per series. */
export const HISTORY_MS = 30 * 60_000;
const SAMPLE_SPACING_MS = 2000;
const RING_CAPACITY = HISTORY_MS / SAMPLE_SPACING_MS;
/** Sparkline points per device in a snapshot: enough for a 120 px wide line. */
const SPARKLINE_POINTS = 80;

/** Where serving telemetry and reported state come from (the fleet link's live state store). */
export interface ServingSource {
  get(deviceId: string): { telemetry: Telemetry | null; reported: Reported | null };
  onChange(listener: (deviceId: string, state: { telemetry: Telemetry | null; reported: Reported | null }) => void): () => void;
}

export interface LiveHubOptions {
  registry: Registry;
  serving?: ServingSource;
  /** A candidate's display name from its catalog id; undefined keeps the id. */
  candidateName?: (candidateId: string) => string | undefined;
  /** Changes are coalesced per device and flushed at most this often. */
  flushMs?: number;
  now?: () => number;
}

interface Entry {
  device: Device;
  serving: ServingState | null;
  reported: Reported | null;
  fps: SampleRing | null;
  temperature: SampleRing | null;
}

/**
 * The live fleet state behind the dashboard: the registry's devices plus the
 * latest telemetry and short FPS/temperature histories, in memory. Changes are
 * marked per device and flushed as one batch per interval, so a thousand
 * heartbeats a second become a few batches a second, one row per device each.
 */
export class LiveHub {
  readonly flushMs: number;
  private readonly registry: Registry;
  private readonly now: () => number;
  private readonly entries = new Map<string, Entry>();
  private readonly pending = new Set<string>();
  private readonly listeners = new Set<(batch: LiveBatch) => void>();
  private timer: NodeJS.Timeout | null = null;
  private readonly unsubscribe: Array<() => void>;
  private readonly candidateName: ((candidateId: string) => string | undefined) | undefined;
  /** Candidates never change name: one catalog lookup each, not one per row per flush. */
  private readonly names = new Map<string, string>();

  constructor(opts: LiveHubOptions) {
    this.registry = opts.registry;
    this.flushMs = opts.flushMs ?? 300;
    this.now = opts.now ?? Date.now;
    this.candidateName = opts.candidateName;
    for (const device of this.registry.list()) this.entries.set(device.id, { device, serving: null, reported: null, fps: null, temperature: null });
    this.unsubscribe = [this.registry.onChange((device) => this.recordDevice(device))];
    const serving = opts.serving;
    if (serving) {
      for (const entry of this.entries.values()) {
        const state = serving.get(entry.device.id);
        entry.reported = state.reported;
        if (state.telemetry) this.recordTelemetry(entry.device.id, state.telemetry);
      }
      const last = new Map<string, Telemetry | null>();
      this.unsubscribe.push(
        serving.onChange((id, state) => {
          // One callback for both kinds: only a new telemetry object is a new sample.
          if (state.telemetry && state.telemetry !== last.get(id)) this.recordTelemetry(id, state.telemetry);
          last.set(id, state.telemetry);
          this.recordReported(id, state.reported);
        }),
      );
    }
  }

  recordReported(id: string, reported: Reported | null): void {
    const entry = this.entries.get(id);
    if (!entry || entry.reported === reported) return;
    entry.reported = reported;
    this.mark(id);
  }

  recordDevice(device: Device): void {
    const entry = this.entry(device);
    const previous = entry.device;
    entry.device = device;
    const hb = device.heartbeat;
    if (hb && hb.ts !== previous.heartbeat?.ts && hb.temperatureC !== null && !entry.serving) {
      // While serving, telemetry carries the temperature; heartbeats fill in otherwise.
      entry.temperature ??= new SampleRing(RING_CAPACITY, SAMPLE_SPACING_MS);
      entry.temperature.push(this.now(), hb.temperatureC);
    }
    this.mark(device.id);
  }

  recordTelemetry(id: string, telemetry: Telemetry): void {
    const existing = this.entries.get(id);
    const device = existing?.device ?? this.registry.get(id);
    if (!device) return;
    const entry = this.entry(device);
    const now = this.now();
    entry.serving = { telemetry, receivedAt: now, previousErrors: entry.serving?.telemetry.errors ?? null };
    entry.fps ??= new SampleRing(RING_CAPACITY, SAMPLE_SPACING_MS);
    entry.fps.push(now, telemetry.fps);
    if (telemetry.temperatureC !== null) {
      entry.temperature ??= new SampleRing(RING_CAPACITY, SAMPLE_SPACING_MS);
      entry.temperature.push(now, telemetry.temperatureC);
    }
    this.mark(id);
  }

  /** The whole fleet as of now, reconciled with the registry (devices added or removed meanwhile). */
  snapshot(): LiveSnapshot {
    const now = this.now();
    const current = this.registry.list();
    const ids = new Set(current.map((d) => d.id));
    for (const id of this.entries.keys()) if (!ids.has(id)) this.entries.delete(id);
    for (const device of current) this.entry(device).device = device;
    const sparklines: LiveSnapshot['sparklines'] = {};
    const devices: LiveDevice[] = [];
    for (const entry of this.entries.values()) {
      devices.push(this.row(entry, now));
      if (entry.fps) sparklines[entry.device.id] = entry.fps.since(now - SPARKLINE_WINDOW_MS, SPARKLINE_POINTS);
    }
    return { serverTime: now, devices, sparklines };
  }

  history(id: string): DeviceHistory | undefined {
    const entry = this.entries.get(id);
    if (!entry) return this.registry.get(id) ? { id, fps: [], temperatureC: [] } : undefined;
    const since = this.now() - HISTORY_MS;
    return { id, fps: entry.fps?.since(since) ?? [], temperatureC: entry.temperature?.since(since) ?? [] };
  }

  /** Called with each flushed batch; returns the unsubscribe function. */
  subscribe(listener: (batch: LiveBatch) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Sends the pending rows now (the timer calls this; tests may too). */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.pending.size === 0) return;
    const now = this.now();
    const devices: LiveDevice[] = [];
    for (const id of this.pending) {
      const entry = this.entries.get(id);
      if (entry) devices.push(this.row(entry, now));
    }
    this.pending.clear();
    const batch: LiveBatch = { serverTime: now, devices };
    for (const listener of this.listeners) listener(batch);
  }

  close(): void {
    for (const off of this.unsubscribe) off();
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.listeners.clear();
  }

  private entry(device: Device): Entry {
    let entry = this.entries.get(device.id);
    if (!entry) {
      entry = { device, serving: null, reported: null, fps: null, temperature: null };
      this.entries.set(device.id, entry);
    }
    return entry;
  }

  private row(entry: Entry, now: number): LiveDevice {
    const row = deviceRow(entry.device, entry.serving, entry.reported, entry.fps?.latest() ?? null, now);
    if (row.candidate && this.candidateName && !row.candidate.startsWith('sha256:')) row.candidate = this.name(row.candidate);
    return row;
  }

  private name(candidateId: string): string {
    let name = this.names.get(candidateId);
    if (name === undefined) {
      name = this.candidateName?.(candidateId) ?? candidateId;
      this.names.set(candidateId, name);
    }
    return name;
  }

  private mark(id: string): void {
    this.pending.add(id);
    if (this.timer === null && this.listeners.size > 0) {
      this.timer = setTimeout(() => this.flush(), this.flushMs);
      this.timer.unref();
    }
    // Without listeners nothing is streamed; pending rows go with the next flush after one subscribes.
  }
}
