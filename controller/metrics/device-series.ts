// Which per-device series /metrics carries, and the fleet counts beside them:
// pure functions of the dashboard's live rows (controller/live), so a scrape
// and the fleet view show the same numbers.
import { TELEMETRY_STALE_MS } from '../live/device-row.js';
import type { Health, LiveDevice } from '../live/wire.js';

/**
 * Devices with per-device series, at most. Each has up to five (FPS, p95,
 * temperature, throttled, health): measured with 1,000 and with 10,000 serving
 * devices, a scrape held 5,089 samples in 426 KiB either way (process metrics
 * included), a small load for one Prometheus. Past the bound, the
 * devices after the first DEVICE_SERIES_LIMIT in id order have none (the same
 * ones every scrape, so no series flaps), edgefit_metrics_devices_omitted says
 * how many, and the fleet-wide counts still count them.
 */
export const DEVICE_SERIES_LIMIT = 1000;

/** Device classes with a series of their own; the rest are summed under device_class="other". */
export const CLASS_SERIES_LIMIT = 50;

/** One device's per-device values; null: no series (not measured, or not fresh). */
export interface DeviceSample {
  device: string;
  /** The candidate it serves ('' when none: Prometheus reads an empty label as absent). */
  candidate: string;
  fps: number | null;
  p95Ms: number | null;
  temperatureC: number | null;
  throttled: boolean | null;
  health: Health;
}

const byId = (a: LiveDevice, b: LiveDevice): number => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/**
 * The per-device samples of a scrape at `now`. Only online devices have
 * series: one gone offline or removed drops out at the next scrape (Prometheus
 * marks its series stale then), so none outlives its device. Serving figures
 * (FPS, p95, throttled) need telemetry received in the last
 * TELEMETRY_STALE_MS, the dashboard's own staleness bound: an agent that
 * stopped serving does not keep its last FPS on the graph.
 */
export function deviceSamples(rows: readonly LiveDevice[], now: number, limit = DEVICE_SERIES_LIMIT): { samples: DeviceSample[]; omitted: number } {
  const online = rows.filter((r) => r.online).sort(byId);
  const kept = online.slice(0, Math.max(0, limit));
  const samples = kept.map((r): DeviceSample => {
    const served = r.fpsSample !== null;
    const fresh = served && now - r.fpsSample![0] <= TELEMETRY_STALE_MS;
    return {
      device: r.id,
      candidate: r.candidate ?? '',
      fps: fresh ? r.fps : null,
      p95Ms: fresh ? r.latencyP95Ms : null,
      // never served: the heartbeat's reading; served: telemetry's, while it is fresh
      temperatureC: !served || fresh ? r.temperatureC : null,
      throttled: fresh ? r.throttled : null,
      health: r.health,
    };
  });
  return { samples, omitted: online.length - kept.length };
}

/** Registered devices by connection state. */
export function devicesByState(rows: readonly LiveDevice[]): { online: number; offline: number } {
  const online = rows.filter((r) => r.online).length;
  return { online, offline: rows.length - online };
}

/**
 * Registered devices per device class, largest first: the `limit` largest
 * classes by name, the rest summed as 'other', a device that never said
 * hello (no class yet) as 'unknown'. At most limit + 1 series.
 */
export function devicesByClass(rows: readonly LiveDevice[], limit = CLASS_SERIES_LIMIT): Array<[string, number]> {
  const counts = new Map<string, number>();
  for (const r of rows) {
    const c = r.deviceClass ?? 'unknown';
    counts.set(c, (counts.get(c) ?? 0) + 1);
  }
  const sorted = [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const kept = sorted.slice(0, Math.max(0, limit));
  const rest = sorted.slice(kept.length).reduce((n, [, c]) => n + c, 0);
  return rest > 0 ? [...kept, ['other', rest]] : kept;
}
