import { Gauge, type Registry } from 'prom-client';
import type { Db } from '../db.js';
import { ACTIVE_ROLLOUT_STATES, ROLLOUT_STATES, type DeviceState, type RolloutState } from '../rollout/states.js';

/**
 * Running or paused rollouts with series of their own, newest first. A
 * rollout's series end when it completes or is aborted; the total by state
 * (edgefit_rollouts) always counts them all.
 */
export const ROLLOUT_SERIES_LIMIT = 20;

/**
 * Rollout gauges, read from SQLite at scrape time (the rollout store's own
 * tables, read-only, in aggregate: a few rows per active rollout, not one
 * per device).
 */
export function registerRolloutGauges(registry: Registry, db: Db, limit = ROLLOUT_SERIES_LIMIT): void {
  const registers = [registry];
  const active = ACTIVE_ROLLOUT_STATES.map(() => '?').join(', ');
  const byState = db.prepare('SELECT state, COUNT(*) AS n FROM rollouts GROUP BY state');
  const newest = db.prepare(`SELECT id, stage, state FROM rollouts WHERE state IN (${active}) ORDER BY created_at DESC, id LIMIT ?`);
  const devices = db.prepare('SELECT stage, state, COUNT(*) AS n FROM rollout_devices WHERE rollout_id = ? GROUP BY stage, state');

  new Gauge({
    name: 'edgefit_rollouts',
    help: 'Rollouts by state (running, paused, completed, aborted).',
    labelNames: ['state'],
    registers,
    collect() {
      const counts = new Map((byState.all() as Array<{ state: RolloutState; n: number }>).map((r) => [r.state, r.n]));
      for (const state of ROLLOUT_STATES) this.set({ state }, counts.get(state) ?? 0);
    },
  });
  new Gauge({
    name: 'edgefit_rollout_stage',
    help: `The stage (0 = first) each running or paused rollout is at, with its state; the ${limit} newest.`,
    labelNames: ['rollout', 'state'],
    registers,
    collect() {
      this.reset();
      for (const r of newest.all(...ACTIVE_ROLLOUT_STATES, limit) as Array<{ id: string; stage: number; state: RolloutState }>) this.set({ rollout: r.id, state: r.state }, r.stage);
    },
  });
  new Gauge({
    name: 'edgefit_rollout_devices',
    help: `Devices of each running or paused rollout (the ${limit} newest) by their stage and their state in it (pending … healthy, failed, rolled-back, timed-out, offline, cancelled).`,
    labelNames: ['rollout', 'stage', 'state'],
    registers,
    collect() {
      this.reset();
      for (const r of newest.all(...ACTIVE_ROLLOUT_STATES, limit) as Array<{ id: string }>) {
        for (const d of devices.all(r.id) as Array<{ stage: number; state: DeviceState; n: number }>) this.set({ rollout: r.id, stage: String(d.stage), state: d.state }, d.n);
      }
    },
  });
}
