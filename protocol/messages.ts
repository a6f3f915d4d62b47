import { z } from 'zod';
import { ArtifactRef } from './artifacts.js';
import { envelope, sha256, shortText } from './envelope.js';
import { EXECUTION_PROVIDERS, ProviderOptions } from './job-messages.js';
import { firstIssue } from './first-issue.js';
import { Count, Fps, Load, MAX_CPU_CORES, MemoryBytes, MemoryMb, Ms, TempC, UptimeS } from './ranges.js';

export { ArtifactRef };
export * from './job-messages.js';
export * from './detection-messages.js';

// Small composable types: each message is an envelope with the protocol version
// and a timestamp, plus its own body. Numbers a sensor may lack are nullable,
// never defaulted: a missing sensor is null, not a guess. Every number a
// device sends has its physical range (protocol/ranges.ts); timestamps are
// judged against the controller's clock at its intake.

/**
 * An accelerator the device has, read from its own files (device tree, L4T
 * release, CUDA and TensorRT version files, nvidia-smi): part of the device
 * class, since two boards of one CPU but different GPUs run models apart.
 * A fact the device cannot read is null, never a guess.
 */
export const Accelerator = z.object({
  kind: z.enum(['jetson', 'nvidia-gpu', 'raspberry-pi']),
  /** 'NVIDIA Jetson AGX Orin Developer Kit', 'NVIDIA GeForce RTX 3090', 'Raspberry Pi 5 Model B Rev 1.0'. */
  model: shortText,
  /** Jetson: L4T release from /etc/nv_tegra_release ('36.3.0'). */
  l4tRelease: shortText.nullable(),
  cudaVersion: shortText.nullable(),
  tensorrtVersion: shortText.nullable(),
  /** NVIDIA driver version (nvidia-smi). */
  driverVersion: shortText.nullable(),
  memoryMb: MemoryMb.int().nullable(),
});
export type Accelerator = z.infer<typeof Accelerator>;

/** Which onnxruntime-node binding the agent loaded: the packaged CPU one, or a local build (`--onnxruntime PATH`, e.g. with CUDA and TensorRT on a Jetson). */
export const OnnxruntimeBinding = z.object({
  source: z.enum(['packaged', 'local']),
  path: z.string().max(4096),
  version: z.string().max(32),
});
export type OnnxruntimeBinding = z.infer<typeof OnnxruntimeBinding>;

export const Inventory = z.object({
  hostname: z.string().max(255),
  cpuModel: z.string().max(255),
  cpuCores: z.number().int().min(1).max(MAX_CPU_CORES),
  cpuPhysicalCores: z.number().int().min(1).max(MAX_CPU_CORES).nullable(),
  arch: z.string().max(32),
  memTotalBytes: MemoryBytes.int(),
  os: z.string().max(255),
  kernel: z.string().max(255),
  boardModel: z.string().max(255).nullable(),
  gpus: z.array(z.string().max(255)).max(16),
  executionProviders: z.array(z.string().max(64)).max(16),
  onnxruntimeVersion: z.string().max(32),
  edgefitVersion: z.string().max(32),
  /** Optional for agents older than the field; a current agent always says (an empty list: none). */
  accelerators: z.array(Accelerator).max(16).optional(),
  onnxruntimeBinding: OnnxruntimeBinding.optional(),
  /** The ffmpeg that decodes video and stream sources; null: none on PATH (image and folder sources still work). */
  ffmpeg: z.object({ path: z.string().max(4096), version: z.string().max(64) }).nullable().optional(),
});
export type Inventory = z.infer<typeof Inventory>;

export const Hello = z.object({
  ...envelope,
  inventory: Inventory,
  deviceClass: z.string().regex(/^[0-9a-f]{16}$/),
});
export type Hello = z.infer<typeof Hello>;

export const Presence = z.object({
  ...envelope,
  state: z.enum(['online', 'offline']),
});
export type Presence = z.infer<typeof Presence>;

export const Heartbeat = z
  .object({
    ...envelope,
    uptimeS: UptimeS,
    agentUptimeS: UptimeS,
    load1: Load.nullable(),
    memUsedBytes: MemoryBytes,
    memTotalBytes: MemoryBytes,
    temperatureC: TempC.nullable(),
    /** Seconds between heartbeats: a device silent for three of them is taken as gone (a crashed broker sends no last will). */
    intervalS: z.number().positive().max(3600).optional(),
  })
  .refine((h) => h.memUsedBytes <= h.memTotalBytes, { message: 'more memory used than the device has', path: ['memUsedBytes'] });
export type Heartbeat = z.infer<typeof Heartbeat>;

/** Parses a raw MQTT payload as JSON then against a schema; the reason on failure is one line. */
export function decode<T extends z.ZodType>(schema: T, payload: Uint8Array): { ok: true; value: z.infer<T> } | { ok: false; reason: string } {
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(payload).toString('utf8'));
  } catch {
    return { ok: false, reason: 'payload is not JSON' };
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) return { ok: false, reason: firstIssue(parsed.error) };
  return { ok: true, value: parsed.data };
}

/**
 * Any value as a payload, on no particular channel: for tests that must send
 * what no schema allows. The agent and the controller publish through
 * `encodeFor` (protocol/channels.ts), which type-checks the message against
 * its channel.
 */
export function encode(message: unknown): Buffer {
  return Buffer.from(JSON.stringify(message));
}

// ---- Desired/reported state and telemetry (serving) ----

export const Slo = z.object({
  minFps: z.number().positive().optional(),
  maxP95Ms: z.number().positive().optional(),
  maxMemoryMb: z.number().positive().optional(),
  maxTempC: z.number().positive().optional(),
});
export type Slo = z.infer<typeof Slo>;

/** Retained: what the device should serve. A higher generation supersedes a lower one. */
export const Desired = z.object({
  ...envelope,
  generation: z.number().int().nonnegative(),
  rolloutId: z.string().max(128).optional(),
  /** null: serve nothing. */
  model: ArtifactRef.nullable(),
  candidateId: z.string().max(128).optional(),
  slo: Slo.default({}),
  /** onnxruntime intra-op threads for serving; absent: onnxruntime's choice. */
  threads: z.number().int().min(1).max(256).optional(),
  /** The execution provider to serve on, as profiled; absent: cpu. */
  ep: z.enum(EXECUTION_PROVIDERS).optional(),
  providerOptions: ProviderOptions.optional(),
});
export type Desired = z.infer<typeof Desired>;
export type DesiredInput = z.input<typeof Desired>;

export const ROLLOUT_STATES = ['idle', 'downloading', 'verifying', 'activating', 'health-check', 'healthy', 'failed', 'rolled-back'] as const;

export const ActiveModel = z.object({ sha256, candidateId: z.string().max(128).optional(), generation: z.number().int().nonnegative(), ep: z.enum(EXECUTION_PROVIDERS).optional() });

/** Retained: what the device is doing about the desired state. */
export const Reported = z.object({
  ...envelope,
  generation: z.number().int().nonnegative(),
  rolloutId: z.string().max(128).optional(),
  state: z.enum(ROLLOUT_STATES),
  activeModel: ActiveModel.nullable(),
  error: z.string().max(4000).optional(),
  slo: z.object({ met: z.boolean(), violations: z.array(shortText).max(16) }).nullable(),
});
export type Reported = z.infer<typeof Reported>;

export const Telemetry = z.object({
  ...envelope,
  fps: Fps,
  latencyP50Ms: Ms.nullable(),
  latencyP95Ms: Ms.nullable(),
  memoryMb: MemoryMb,
  temperatureC: TempC.nullable(),
  throttled: z.boolean().nullable(),
  modelSha256: sha256,
  errors: Count,
  // The frame source (issue #19), optional so older agents still validate. A
  // minute per frame or a billion frames is no reading: bounded like sensors.
  /** Decoder CPU time per decoded frame (ffmpeg's user + system over its frames; Node's own decode for JPEG/PNG); null: not measured. */
  decodeMs: z.number().min(0).max(60_000).nullable().optional(),
  /** Mean inference time per frame over the last second (letterbox, model, NMS), apart from decode; null: no frame in it. */
  inferenceMs: z.number().min(0).max(60_000).nullable().optional(),
  /** Frames the source replaced by a newer one since the previous telemetry (latest frame wins), and since it opened. */
  droppedFrames: z.number().int().min(0).max(1e9).optional(),
  droppedTotal: z.number().int().min(0).max(1e12).optional(),
  /** Connections the source restored after a loss, since it opened. */
  reconnects: z.number().int().min(0).max(1e9).optional(),
  /** Frames are flowing now (false while the source reconnects). */
  sourceConnected: z.boolean().optional(),
  /** The source's last error, short (it stays after a reconnect: the gap says when). */
  sourceError: z.string().max(255).nullable().optional(),
  /** The last loss: the last frame before it and the first after (null while it lasts), ms since epoch. */
  sourceGap: z
    .object({ from: z.number().int().nonnegative(), to: z.number().int().nonnegative().nullable() })
    .refine((g) => g.to === null || g.to >= g.from, 'a gap ends after it starts')
    .nullable()
    .optional(),
  /** The user's application's latest own report (POST /v1/app-report on the agent, hand-off mode): its FPS, p95, frames, and how old the report is. Absent: it never reported. */
  app: z
    .object({
      fps: Fps,
      p95Ms: z.number().min(0).max(60_000).nullable(),
      frames: z.number().int().min(0).max(1e15).nullable(),
      ageS: z.number().min(0).max(1e9),
    })
    .optional(),
});
export type Telemetry = z.infer<typeof Telemetry>;
