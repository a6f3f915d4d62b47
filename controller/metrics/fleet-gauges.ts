import { Gauge, type Registry } from 'prom-client';
import type { LiveDevice } from '../live/wire.js';
import { CLASS_SERIES_LIMIT, DEVICE_SERIES_LIMIT, deviceSamples, devicesByClass, devicesByState, type DeviceSample } from './device-series.js';

/** The live fleet as the dashboard sees it (LiveHub.snapshot): every registered device's row and the time it was read. */
export type FleetView = () => { serverTime: number; devices: LiveDevice[] };

export interface FleetGaugeOptions {
  /** The live fleet now; undefined until the HTTP app that owns the live view hands it over (the gauges are empty until then). */
  view: () => ReturnType<FleetView> | undefined;
  deviceLimit?: number;
  classLimit?: number;
  /** Told the number of devices left without per-device series at each scrape. */
  onOmitted?: (omitted: number) => void;
}

interface Scrape {
  state: { online: number; offline: number };
  classes: Array<[string, number]>;
  samples: DeviceSample[];
  omitted: number;
}

/**
 * A value computed once for all the gauges of one scrape: prom-client's
 * registry.metrics() calls every metric's collect() in one synchronous pass,
 * so the cache is dropped at the first microtask after it (a second scrape,
 * even one awaited right after, computes afresh). Were the collects ever
 * called apart, each would compute anew: slower, never stale.
 */
function oncePerPass<T>(compute: () => T): () => T {
  let cached: { value: T } | undefined;
  return () => {
    if (!cached) {
      cached = { value: compute() };
      queueMicrotask(() => (cached = undefined));
    }
    return cached.value;
  };
}

/** The device gauges, each recomputed from the live view at scrape time (reset first: a series of a device gone is not kept). */
export function registerFleetGauges(registry: Registry, opts: FleetGaugeOptions): void {
  const registers = [registry];
  const deviceLimit = opts.deviceLimit ?? DEVICE_SERIES_LIMIT;
  const scrape = oncePerPass((): Scrape => {
    const view = opts.view();
    if (!view) return { state: { online: 0, offline: 0 }, classes: [], samples: [], omitted: 0 };
    const { devices, serverTime } = view;
    const { samples, omitted } = deviceSamples(devices, serverTime, deviceLimit);
    opts.onOmitted?.(omitted);
    return { state: devicesByState(devices), classes: devicesByClass(devices, opts.classLimit ?? CLASS_SERIES_LIMIT), samples, omitted };
  });

  new Gauge({
    name: 'edgefit_devices',
    help: 'Registered devices by connection state (online, offline).',
    labelNames: ['state'],
    registers,
    collect() {
      const { state } = scrape();
      this.set({ state: 'online' }, state.online);
      this.set({ state: 'offline' }, state.offline);
    },
  });
  new Gauge({
    name: 'edgefit_devices_by_class',
    help: `Registered devices by device class (the ${CLASS_SERIES_LIMIT} largest; the rest as "other"; no hello yet: "unknown").`,
    labelNames: ['device_class'],
    registers,
    collect() {
      this.reset();
      for (const [deviceClass, n] of scrape().classes) this.set({ device_class: deviceClass }, n);
    },
  });
  new Gauge({
    name: 'edgefit_metrics_devices_omitted',
    help: `Online devices without per-device series: past the bound of ${deviceLimit} (first ones in id order kept).`,
    registers,
    collect() {
      this.set(scrape().omitted);
    },
  });

  /** One per-device gauge: a series for each online device (within the bound) that has the value. */
  const perDevice = (name: string, help: string, value: (s: DeviceSample) => number | null) =>
    new Gauge({
      name,
      help,
      labelNames: ['device', 'candidate'],
      registers,
      collect() {
        this.reset();
        for (const s of scrape().samples) {
          const v = value(s);
          if (v !== null) this.set({ device: s.device, candidate: s.candidate }, v);
        }
      },
    });
  perDevice('edgefit_device_fps', 'Frames per second the device serves (its latest telemetry, while fresh).', (s) => s.fps);
  perDevice('edgefit_device_latency_p95_seconds', "p95 latency of the device's served frames, in seconds.", (s) => (s.p95Ms === null ? null : s.p95Ms / 1000));
  perDevice('edgefit_device_temperature_celsius', "The device's chip temperature in °C (serving telemetry, else its heartbeat); absent without a sensor.", (s) => s.temperatureC);
  perDevice('edgefit_device_throttled', 'Whether the device reports its CPU clock throttled (1) or not (0); absent when it cannot tell.', (s) => (s.throttled === null ? null : s.throttled ? 1 : 0));

  new Gauge({
    name: 'edgefit_device_health',
    help: "The device's health as the dashboard shows it: 1 on the series of its current health (ok, warning, failing, idle).",
    labelNames: ['device', 'candidate', 'health'],
    registers,
    collect() {
      this.reset();
      for (const s of scrape().samples) this.set({ device: s.device, candidate: s.candidate, health: s.health }, 1);
    },
  });
}
