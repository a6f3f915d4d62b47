import type { Slo } from '../../protocol/messages.js';
import { latencyStats } from '../profile/stats.js';

/** Detect-head stride sets the YOLOv8 family exports: p3-p5, p2 and p6 heads. */
const STRIDE_SETS = [
  [8, 16, 32],
  [4, 8, 16, 32],
  [8, 16, 32, 64],
];

/** Why a raw head output cannot be this detector's, or null when it can: [1, 4 + nc, anchors]. */
export function outputShapeProblem(dims: readonly number[], inputHeight: number, inputWidth: number): string | null {
  if (dims.length !== 3 || dims[0] !== 1) return `output must be [1, 4 + classes, anchors], got [${dims.join(', ')}]`;
  if (dims[1] < 5) return `output has ${dims[1]} rows per anchor, need 4 box coordinates and at least one class`;
  const anchors = STRIDE_SETS.map((set) => set.reduce((n, s) => n + Math.ceil(inputHeight / s) * Math.ceil(inputWidth / s), 0));
  if (!anchors.includes(dims[2])) return `output has ${dims[2]} anchors; a ${inputWidth}×${inputHeight} YOLO head has ${anchors.join(' or ')}`;
  return null;
}

export interface FrameRecord {
  /** performance.now() when the frame finished. */
  doneAt: number;
  latencyMs: number;
}

export interface WindowStats {
  frames: number;
  fps: number;
  p50Ms: number | null;
  p95Ms: number | null;
  /** Mean latency (ms): with fps, the time per frame spent in inference. */
  meanMs: number | null;
}

/** Throughput and latency of the frames that finished in the last `windowMs` before `now`. */
export function windowStats(records: readonly FrameRecord[], now: number, windowMs: number): WindowStats {
  const inWindow = records.filter((r) => r.doneAt > now - windowMs && r.doneAt <= now);
  if (inWindow.length === 0) return { frames: 0, fps: 0, p50Ms: null, p95Ms: null, meanMs: null };
  const stats = latencyStats(inWindow.map((r) => r.latencyMs));
  const meanMs = inWindow.reduce((sum, r) => sum + r.latencyMs, 0) / inWindow.length;
  return { frames: inWindow.length, fps: Math.round((inWindow.length * 100_000) / windowMs) / 100, p50Ms: stats.p50Ms, p95Ms: stats.p95Ms, meanMs: Math.round(meanMs * 100) / 100 };
}

export interface SloInput {
  fps: number;
  p95Ms: number | null;
  memoryMb: number;
  temperatureC: number | null;
}

/** Which service-level bounds the measured window breaks; an unknown reading breaks nothing. */
export function evaluateSlo(m: SloInput, slo: Slo): { met: boolean; violations: string[] } {
  const violations: string[] = [];
  if (slo.minFps !== undefined && m.fps < slo.minFps) violations.push(`fps ${m.fps} < ${slo.minFps}`);
  if (slo.maxP95Ms !== undefined && m.p95Ms !== null && m.p95Ms > slo.maxP95Ms) violations.push(`p95 ${m.p95Ms} ms > ${slo.maxP95Ms} ms`);
  if (slo.maxMemoryMb !== undefined && m.memoryMb > slo.maxMemoryMb) violations.push(`memory ${m.memoryMb} MB > ${slo.maxMemoryMb} MB`);
  if (slo.maxTempC !== undefined && m.temperatureC !== null && m.temperatureC > slo.maxTempC) violations.push(`temperature ${m.temperatureC} °C > ${slo.maxTempC} °C`);
  return { met: violations.length === 0, violations };
}
