import { z } from 'zod';

// The physical range of every number a device sends, in one place, each with
// why it is the bound. A device is trusted to say what it measured, not to
// say anything at all: a first probe of issue #20 had the controller store a
// result with `p95Ms: -1`, `modelFps: 1e308`, `cpuPct: -500`, telemetry at
// `temperatureC: -1e308` and a heartbeat stamped `ts: 8.64e15`, and
// `rollout status` printed `serving 1e+308 FPS`. A message with a number
// outside its range is refused whole at the controller's intake, with its
// reason on one log line (controller/device-dispatch.ts), and never stored.
// zod 4's z.number() already refuses NaN and ±Infinity, and .int() refuses
// integers past 2^53 (JSON carries neither as a number).

/** Linux's largest CONFIG_NR_CPUS: no machine a device runs on has more logical cores. */
export const MAX_CPU_CORES = 8192;

/** A latency in ms: ≥ 0 (0 only in a phase's empty statistics, and as a spread), ≤ 10 minutes (one frame slower than that is a hung model, not a reading). */
export const Ms = z.number().min(0).max(600_000);

/** Frames per second: onnxruntime-node's own call costs tens of µs, so no session runs more than ~100,000 a second (a hand-off application's report keeps the same bound). */
export const Fps = z.number().min(0).max(100_000);

/** CPU time over wall time in percent of one core, like top (2 busy cores read 200): at most 100 per core of the largest machine. */
export const CpuPct = z.number().min(0).max(100 * MAX_CPU_CORES);

/** A percentage of something whole (clock drop against the maximum). */
export const Pct = z.number().min(0).max(100);

/** A chip's temperature in °C: silicon is rated for −40…125 °C (industrial grade); past −60 or 150 a sensor misreads. */
export const TempC = z.number().min(-60).max(150);

/** Memory in MiB: 16 TiB, more than any single machine edgefit targets (the largest servers hold 12-16 TiB). */
export const MemoryMb = z.number().min(0).max(16 * 1024 * 1024);

/** A change of memory in MiB, as large as memory itself either way. */
export const MemoryDeltaMb = z.number().min(-16 * 1024 * 1024).max(16 * 1024 * 1024);

/** Memory in bytes: the same 16 TiB (not always an integer: a heartbeat's used memory may be an estimate). */
export const MemoryBytes = z.number().min(0).max(16 * 2 ** 40);

/** A duration in seconds since a start (uptime): a century. */
export const UptimeS = z.number().min(0).max(100 * 365.25 * 86_400);

/** A load average counts runnable and waiting tasks: at most Linux's largest pid_max (2^22). */
export const Load = z.number().min(0).max(2 ** 22);

/** A process id: at most Linux's largest pid_max (2^22). */
export const Pid = z.number().int().min(0).max(2 ** 22);

/** A clock frequency in MHz: no CPU clocks past 100 GHz. */
export const MHz = z.number().min(0).max(100_000);

/** A count of things (runs, frames, errors): a non-negative integer (zod's int() stops at 2^53). */
export const Count = z.number().int().min(0);

/** A side of a frame in pixels, as the frame source or a message says it (existing bound of the detections messages). */
export const FrameSide = z.number().int().min(1).max(100_000);

/** A coordinate in a frame's pixels: frames are at most 100,000 px a side, and a box ten times past that is no detection. */
export const Coordinate = z.number().min(-1_000_000).max(1_000_000);

/** A tensor dimension onnxruntime reported: no tensor a device can hold has a side past 2^31. */
export const TensorDim = z.number().int().min(0).max(2 ** 31 - 1);

/** Wall time of one profile in s: a profile is killed after its timeout (ProfileOptions: ≤ 7200 s), once per thread count (≤ 16). */
export const ProfileWallS = z.number().min(0).max(7200 * 16);

/** Session creation in ms: a TensorRT engine build takes minutes on a Jetson, and the job's timeout (≤ 7200 s) stops it. */
export const SessionCreateMs = z.number().min(0).max(7200 * 1000);

/** A sustained phase's FPS drop in percent, 100·(1 − last/first): at most 100 (stopped), at least what the FPS range allows (first 0.1 FPS in a 10 s window, last 100,000). */
export const DropPct = z.number().min(-1e8).max(100);

// ---- Timestamps: relative to the controller's clock, so checked at intake, not in the schemas ----

/** No device message was written before 2020 (edgefit did not exist): an earlier stamp is a clock that was never set (a board without a battery-backed clock, before NTP). */
export const EARLIEST_DEVICE_TS = Date.UTC(2020, 0, 1);
/** A device clock may run ahead of the controller's; by more than a day it is wrong, and a stamp from it would sort after everything real. */
export const MAX_CLOCK_AHEAD_MS = 86_400_000;

/** Date's own range ends at ±8.64e15 ms; a stamp past it prints as a number. */
const stamp = (ms: number): string => (Math.abs(ms) <= 8.64e15 ? new Date(ms).toISOString() : String(ms));

/**
 * Why a device message's timestamp cannot be right against the controller's
 * clock `now`, or undefined when it can be. Only the controller's intake asks:
 * an agent does not judge the controller's stamps by its own clock, which may
 * be the one that is wrong.
 */
export function deviceTimestampIssue(ts: number, now: number): string | undefined {
  if (ts < EARLIEST_DEVICE_TS) return `ts: ${stamp(ts)} is before 2020: the device's clock is not set`;
  if (ts > now + MAX_CLOCK_AHEAD_MS) return `ts: ${stamp(ts)} is more than a day ahead of the controller's clock (${stamp(now)})`;
  return undefined;
}
