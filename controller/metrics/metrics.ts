import type { Logger } from 'pino';
import { collectDefaultMetrics, Registry } from 'prom-client';
import type { Db } from '../db.js';
import { fleetCounters, type FleetCounters } from './counters.js';
import { DEVICE_SERIES_LIMIT } from './device-series.js';
import { registerFleetGauges, type FleetView } from './fleet-gauges.js';
import { registerRolloutGauges } from './rollout-gauges.js';

export interface ControllerMetricsOptions {
  db: Db;
  log: Logger;
  /** Devices with per-device series at most (device-series.ts). */
  deviceSeriesLimit?: number;
}

/**
 * Everything GET /metrics shows, on a registry of its own (not prom-client's
 * global one: two controllers in one process, as in the tests, keep apart):
 * the counters the edges increment, gauges read at scrape time from the live
 * fleet and the rollout tables, and prom-client's process and Node metrics
 * (CPU, memory, handles, GC, event-loop lag).
 */
export class ControllerMetrics {
  readonly registry = new Registry();
  readonly counters: FleetCounters;
  private view: FleetView | undefined;
  private omitted = 0;

  constructor(opts: ControllerMetricsOptions) {
    collectDefaultMetrics({ register: this.registry });
    this.counters = fleetCounters(this.registry);
    const limit = opts.deviceSeriesLimit ?? DEVICE_SERIES_LIMIT;
    registerFleetGauges(this.registry, {
      view: () => this.view?.(),
      deviceLimit: limit,
      onOmitted: (omitted) => {
        // once when the bound starts to bite, once when it stops: not a line per scrape
        if (omitted > 0 && this.omitted === 0) opts.log.warn({ omitted, limit }, 'metrics: more online devices than the per-device series bound; the devices past it (in id order) have no per-device series');
        if (omitted === 0 && this.omitted > 0) opts.log.info({ limit }, 'metrics: every online device has its per-device series again');
        this.omitted = omitted;
      },
    });
    registerRolloutGauges(this.registry, opts.db);
  }

  /** The live fleet the device gauges read at each scrape: the dashboard's own view (LiveHub), handed over by the HTTP app that owns it. */
  watchFleet(view: FleetView): void {
    this.view = view;
  }

  /** The Prometheus text exposition of everything, computed now. */
  async scrape(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
