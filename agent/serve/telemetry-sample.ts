import type { Telemetry } from '../../protocol/messages.js';
import { PROTOCOL_VERSION } from '../../protocol/topics.js';
import { processMemory } from '../profile/memory.js';
import { sampleThermal } from '../profile/thermal-watch.js';
import { readFirmwareThrottled, throttledNow } from '../sensors/index.js';
import type { WindowStats } from './health.js';
import type { ModelServer } from './server.js';
import type { SlotStats, SourceSlot } from './source-slot.js';

export type SourceTelemetry = Pick<Telemetry, 'decodeMs' | 'inferenceMs' | 'droppedFrames' | 'droppedTotal' | 'reconnects' | 'sourceConnected' | 'sourceError' | 'sourceGap'>;

const round2 = (x: number) => Math.round(x * 100) / 100;
/** Telemetry's bound on a per-frame time: a reading past it is no reading. */
const MAX_MS = 60_000;
const ms = (x: number | null | undefined): number | null => (x === null || x === undefined || !Number.isFinite(x) || x < 0 || x > MAX_MS ? null : round2(x));
const iso = (t: string | null): number | null => (t === null ? null : Date.parse(t));

/**
 * The telemetry fields on frames: inference time from the serving window
 * (every source, the built-in scenes too) and, where the agent has a source,
 * its decode time, drops, reconnects and the last gap. `droppedBefore` is the
 * drop total the previous telemetry carried (null: this is the first).
 */
export function sourceTelemetry(w: WindowStats, s: SlotStats | null, droppedBefore: number | null): SourceTelemetry {
  const inference = { inferenceMs: ms(w.meanMs) };
  if (!s) return inference;
  const from = iso(s.lastGap?.from ?? null);
  const to = iso(s.lastGap?.to ?? null);
  return {
    ...inference,
    decodeMs: ms(s.decodeMsPerFrame),
    // a total below the one before (it cannot happen with the slot's totals) reads as a restart, not as negative drops
    droppedFrames: droppedBefore === null || s.framesDropped < droppedBefore ? s.framesDropped : s.framesDropped - droppedBefore,
    droppedTotal: s.framesDropped,
    reconnects: s.reconnects,
    sourceConnected: s.connected,
    sourceError: s.lastError === null ? null : s.lastError.slice(0, 255),
    sourceGap: from === null || Number.isNaN(from) ? null : { from, to: to === null || Number.isNaN(to) || to < from ? null : to },
  };
}

const MB = 1024 * 1024;

/**
 * One telemetry message of a serving model: the last second's throughput and
 * latency, process memory, temperature and throttling, and the source's
 * counts. `droppedBefore`: the drop total of the previous message.
 */
export async function sampleTelemetry(server: ModelServer, slot: SourceSlot | null, droppedBefore: number | null): Promise<Telemetry> {
  const [thermal, firmware] = await Promise.all([sampleThermal(), readFirmwareThrottled()]);
  const w = server.window(1000);
  return {
    v: PROTOCOL_VERSION as typeof PROTOCOL_VERSION,
    ts: Date.now(),
    fps: w.fps,
    latencyP50Ms: w.p50Ms,
    latencyP95Ms: w.p95Ms,
    memoryMb: Math.round((processMemory().rssBytes() / MB) * 10) / 10,
    temperatureC: thermal.temperatureC,
    throttled: firmware ? throttledNow(firmware) : null,
    modelSha256: server.sha256,
    errors: server.errors,
    ...sourceTelemetry(w, slot?.stats() ?? null, droppedBefore),
  };
}
