import type { Reported, Telemetry } from '../../protocol/messages.js';
import type { Device } from '../registry.js';
import type { Health, LiveDevice, Sample, SourceHealth } from './wire.js';

/** Most boards start throttling between 80 and 85 °C: warn before they do. */
export const HOT_C = 80;
/** Telemetry older than this, from an online device, means serving stalled. */
export const TELEMETRY_STALE_MS = 30_000;

/** What the live state keeps per device beyond the registry row. */
export interface ServingState {
  telemetry: Telemetry;
  /** When the controller received it (device clocks drift). */
  receivedAt: number;
  /** Inference errors counted by the previous telemetry, to spot new ones. */
  previousErrors: number | null;
}

export function health(device: Device, serving: ServingState | null, reported: Reported | null, now: number): { health: Health; reason: string } {
  if (!device.online) return { health: 'offline', reason: device.lastSeen === null ? 'never connected' : 'disconnected' };
  if (reported && (reported.state === 'failed' || reported.state === 'rolled-back')) {
    return { health: 'failing', reason: `${reported.state}${reported.error ? `: ${reported.error}` : ''}` };
  }
  if (!serving) return { health: 'idle', reason: reported && reported.state !== 'idle' && reported.state !== 'healthy' ? reported.state : 'not serving a model' };
  const t = serving.telemetry;
  if (now - serving.receivedAt > TELEMETRY_STALE_MS) return { health: 'warning', reason: `no telemetry for ${Math.round((now - serving.receivedAt) / 1000)} s` };
  const problems: string[] = [];
  if (serving.previousErrors !== null && t.errors > serving.previousErrors) problems.push(`${t.errors - serving.previousErrors} inference errors`);
  if (t.throttled) problems.push('throttling');
  const temperature = t.temperatureC ?? device.heartbeat?.temperatureC ?? null;
  if (temperature !== null && temperature >= HOT_C) problems.push(`hot (${temperature.toFixed(0)} °C)`);
  if (t.sourceConnected === false) problems.push(`source down${t.sourceError ? `: ${t.sourceError}` : ''}`);
  if (t.fps === 0) problems.push('0 FPS');
  if (reported?.slo && !reported.slo.met) problems.push(`SLO missed: ${reported.slo.violations.join(', ') || 'unspecified'}`);
  return problems.length ? { health: 'warning', reason: problems.join(', ') } : { health: 'ok', reason: '' };
}

const MB = 1024 * 1024;

/** The fleet row of one device: registry facts, latest heartbeat and latest serving telemetry. */
export function deviceRow(device: Device, serving: ServingState | null, reported: Reported | null, fpsSample: Sample | null, now: number): LiveDevice {
  const hb = device.heartbeat;
  const t = serving?.telemetry ?? null;
  const { health: h, reason } = health(device, serving, reported, now);
  const inv = device.inventory;
  return {
    id: device.id,
    deviceClass: device.deviceClass,
    labels: device.labels,
    online: device.online,
    lastSeen: device.lastSeen,
    hardware: inv ? (inv.boardModel ?? inv.cpuModel) : null,
    candidate: servedCandidate(t, reported),
    ep: servedProvider(t, reported),
    fps: t && device.online ? t.fps : null,
    app: t?.app && device.online ? { fps: t.app.fps, ageS: t.app.ageS } : null,
    latencyP95Ms: t && device.online ? t.latencyP95Ms : null,
    decodeMs: t && device.online ? (t.decodeMs ?? null) : null,
    inferenceMs: t && device.online ? (t.inferenceMs ?? null) : null,
    source: t && device.online ? sourceHealth(t) : null,
    memoryMb: t && device.online ? t.memoryMb : null,
    deviceMemUsedMb: hb && device.online ? hb.memUsedBytes / MB : null,
    deviceMemTotalMb: hb ? hb.memTotalBytes / MB : inv ? inv.memTotalBytes / MB : null,
    temperatureC: t?.temperatureC ?? hb?.temperatureC ?? null,
    throttled: t ? t.throttled : null,
    health: h,
    healthReason: reason,
    fpsSample,
  };
}

/** The source fields of telemetry; null when it carries none (no --source, or an agent from before them). */
function sourceHealth(t: Telemetry): SourceHealth | null {
  if (t.sourceConnected === undefined && t.droppedTotal === undefined && t.reconnects === undefined) return null;
  return {
    droppedFrames: t.droppedFrames ?? null,
    droppedTotal: t.droppedTotal ?? null,
    reconnects: t.reconnects ?? null,
    connected: t.sourceConnected ?? null,
    error: t.sourceError ?? null,
    gap: t.sourceGap ?? null,
  };
}

/** The provider the device reports for its active model, when that is the model telemetry measures. */
function servedProvider(t: Telemetry | null, reported: Reported | null): string | null {
  const active = reported?.activeModel ?? null;
  return active && (!t || t.modelSha256 === active.sha256) ? (active.ep ?? null) : null;
}

/** The reported active candidate when it is the model telemetry measures; else the model's digest. */
function servedCandidate(t: Telemetry | null, reported: Reported | null): string | null {
  const active = reported?.activeModel ?? null;
  if (active && (!t || t.modelSha256 === active.sha256)) return active.candidateId ?? `sha256:${active.sha256.slice(0, 12)}`;
  return t ? `sha256:${t.modelSha256.slice(0, 12)}` : null;
}
