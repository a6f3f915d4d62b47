import { z } from 'zod';
import { ArtifactRef, SHA256_PATTERN } from './artifacts.js';
import { firstIssue } from './first-issue.js';
import { Coordinate, Count, CpuPct, DropPct, Fps, FrameSide, Load, MAX_CPU_CORES, MemoryBytes, MemoryDeltaMb, MemoryMb, MHz, Ms, Pct, Pid, ProfileWallS, SessionCreateMs, TempC, TensorDim, UptimeS } from './ranges.js';
import { PROTOCOL_VERSION } from './topics.js';

export { ArtifactRef };

// Small composable types: each message is an envelope with the protocol version
// and a timestamp, plus its own body. Numbers a sensor may lack are nullable,
// never defaulted: a missing sensor is null, not a guess. Every number a
// device sends has its physical range (protocol/ranges.ts); timestamps are
// judged against the controller's clock at its intake.

const envelope = {
  v: z.literal(PROTOCOL_VERSION),
  ts: z.number().int().nonnegative(),
};

// Everything a device sends is kept and shown on every dashboard: bound each string and list.
const sha256 = z.string().regex(SHA256_PATTERN);
const shortText = z.string().max(255);

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

// ---- Jobs, results, desired/reported state and telemetry (on-device profiling and serving) ----

export const EXECUTION_PROVIDERS = ['cpu', 'cuda', 'tensorrt'] as const;
export type ExecutionProvider = (typeof EXECUTION_PROVIDERS)[number];

/**
 * A provider's options, the same object for a profile job and for serving, so
 * a candidate serves exactly as it was measured. The agent keeps TensorRT's
 * engine cache in its own state folder, one sub-folder per model hash.
 */
export const ProviderOptions = z
  .object({
    /** CUDA / TensorRT device ordinal. */
    deviceId: z.number().int().min(0).max(15).optional(),
    /** TensorRT: allow fp16 kernels. */
    trtFp16: z.boolean().optional(),
    /** TensorRT: allow int8 kernels (the model's Q/DQ scales). */
    trtInt8: z.boolean().optional(),
    /** TensorRT: keep built engines across runs (default true): a first build takes minutes on a Jetson. */
    trtEngineCache: z.boolean().optional(),
  })
  .strict();
export type ProviderOptions = z.infer<typeof ProviderOptions>;

/** A few reference frames for the on-device correctness check: the device returns the candidate's raw detections on them. */
export const CheckRequest = z.object({
  /** JPEG or PNG images, content-addressed and signed like models. */
  frames: z.array(ArtifactRef).min(1).max(8),
});
export type CheckRequest = z.infer<typeof CheckRequest>;

/** One detection in the frame's own pixels: x1, y1, x2, y2, score, class id. */
export const Detection = z.tuple([Coordinate, Coordinate, Coordinate, Coordinate, z.number().min(0).max(1), z.number().int().min(0).max(100_000)]);
export type Detection = z.infer<typeof Detection>;

/** The device's side of the on-device check: per reference frame (by sha256), what the candidate found there, on the provider it was profiled with. */
export const CheckReport = z.object({
  frames: z.array(z.object({ sha256, detections: z.array(Detection).max(1000) })).max(8),
  /** Wall time the check took on the device (decode, letterbox, run, NMS for every frame). */
  ms: z.number().nonnegative().max(3_600_000),
});
export type CheckReport = z.infer<typeof CheckReport>;

const JOB_ID = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/);

export const ProfileOptions = z.object({
  /** Measured runs per phase; a phase stops at `runs` or `durationS`, whichever comes first. */
  runs: z.number().int().min(1).max(1_000_000).optional(),
  durationS: z.number().positive().max(3600).optional(),
  warmup: z.number().int().min(0).max(10_000).default(10),
  /** onnxruntime intra-op threads; absent: onnxruntime's choice. */
  threads: z.number().int().min(1).max(256).optional(),
  /** Profile once per thread count; the report's top level is the fastest end-to-end. */
  threadsSweep: z.array(z.number().int().min(1).max(256)).min(1).max(16).optional(),
  /** Sustained end-to-end phase length; FPS of the first versus the last window. */
  sustainedS: z.number().min(1).max(3600).optional(),
  ep: z.enum(EXECUTION_PROVIDERS).default('cpu'),
  providerOptions: ProviderOptions.optional(),
  /** Abort (failed result) when the chip gets hotter than this. */
  maxTempC: z.number().min(0).max(150).optional(),
  /** Hard limit for the isolated run; the default scales with the requested work. */
  timeoutS: z.number().positive().max(7200).optional(),
  /** Also return time per node (onnxruntime session profiling, in a separate session after the measurement): issue #21. */
  opProfile: z.boolean().optional(),
});
export type ProfileOptions = z.infer<typeof ProfileOptions>;

export const Job = z.object({
  ...envelope,
  jobId: JOB_ID,
  kind: z.literal('profile'),
  artifact: ArtifactRef,
  /** The controller's candidate this artifact is, echoed in the result. */
  candidateId: z.string().max(128).optional(),
  options: ProfileOptions.default({ warmup: 10, ep: 'cpu' }),
  /** The on-device correctness check; absent: none asked. */
  check: CheckRequest.optional(),
});
export type Job = z.infer<typeof Job>;
export type JobInput = z.input<typeof Job>;

const LATENCY_ORDER = ['minMs', 'p50Ms', 'p90Ms', 'p95Ms', 'p99Ms', 'maxMs'] as const;

export const LatencyStats = z
  .object({
    n: Count,
    minMs: Ms,
    p50Ms: Ms,
    p90Ms: Ms,
    p95Ms: Ms,
    p99Ms: Ms,
    maxMs: Ms,
    meanMs: Ms,
    stdMs: Ms,
  })
  // percentiles of one sorted sample (rounding to 0.001 ms keeps their order), and a mean inside them
  .superRefine((s, ctx) => {
    for (let i = 1; i < LATENCY_ORDER.length; i++) {
      if (s[LATENCY_ORDER[i]] < s[LATENCY_ORDER[i - 1]]) return ctx.addIssue({ code: 'custom', path: [LATENCY_ORDER[i]], message: `below ${LATENCY_ORDER[i - 1]}: percentiles of one sample are ordered` });
    }
    if (s.meanMs < s.minMs || s.meanMs > s.maxMs) ctx.addIssue({ code: 'custom', path: ['meanMs'], message: 'outside minMs..maxMs' });
  });
export type LatencyStats = z.infer<typeof LatencyStats>;

export const ProfileRun = z.object({
  threads: z.number().int().min(1).max(256).nullable(),
  sessionCreateMs: SessionCreateMs,
  warmupRuns: z.number().int().min(0).max(10_000),
  /** session.run alone on a prepared input tensor. */
  model: LatencyStats,
  modelFps: Fps,
  /** letterbox + inference + decode/NMS on a real frame. */
  endToEnd: LatencyStats,
  endToEndFps: Fps,
  // a sustained phase asks at most 3600 s (ProfileOptions) and ends after its last frame
  sustained: z.object({ durationS: z.number().min(0).max(7200), windowS: z.number().min(0).max(3600), firstFps: Fps, lastFps: Fps, dropPct: DropPct }).nullable(),
  cpuPct: CpuPct.nullable(),
});
export type ProfileRun = z.infer<typeof ProfileRun>;

/** Bounds of an operator profile: it must fit in one result message (MAX_PAYLOAD_BYTES) beside the rest. */
export const OP_PROFILE_LIMITS = { nodes: 1024, unmapped: 256, groups: 512, name: 200 } as const;
const opName = z.string().max(OP_PROFILE_LIMITS.name);

/**
 * Time per node of the model, from onnxruntime's session profile, mean over
 * the profiled runs after warm-up (compress/latency/op-profile.ts): a node's
 * own kernel time, plus the time of optimized-graph nodes with no model
 * counterpart attributed to it (reorders, fused activations); and time per
 * channel group (compress/latency/groups.ts). Kept to the longest nodes when
 * the model has more than the bounds allow (`truncated`).
 */
export const OpProfileReport = z.object({
  threads: z.number().int().min(1).max(256).nullable(),
  runs: z.number().int().min(1).max(100_000),
  warmupRuns: z.number().int().min(0).max(10_000),
  /** Mean wall time of a profiled run (the profiler's overhead included: compare kernels with kernels). */
  runMs: Ms,
  /** Sum of all kernel times of a run. */
  kernelMs: Ms,
  nodes: z.array(z.object({ node: opName, op: z.string().max(64), ms: Ms, absorbedMs: Ms })).max(OP_PROFILE_LIMITS.nodes),
  unmapped: z.array(z.object({ name: opName, op: z.string().max(64), ms: Ms, to: opName.nullable() })).max(OP_PROFILE_LIMITS.unmapped),
  /** Model nodes with no kernel of their own (folded at load, or fused into a neighbour). */
  absent: z.number().int().min(0).max(1_000_000),
  groups: z.array(z.object({ group: opName, units: z.number().int().min(0).max(1_000_000), ms: Ms, convs: z.number().int().min(0).max(100_000) })).max(OP_PROFILE_LIMITS.groups),
  truncated: z.boolean(),
});
export type OpProfileReport = z.infer<typeof OpProfileReport>;

export const ProfileReport = ProfileRun.extend({
  ep: z.enum(EXECUTION_PROVIDERS),
  modelSha256: sha256,
  inputShape: z.array(TensorDim).max(16),
  // -1: a dimension onnxruntime does not know (dynamic and unnamed)
  outputShape: z.array(z.union([TensorDim.or(z.literal(-1)), z.string().max(64)])).max(16),
  frame: z.object({ width: FrameSide, height: FrameSide, source: z.string().max(4096) }),
  memory: z.object({
    rssAfterLoadMb: MemoryMb,
    peakRssMb: MemoryMb,
    rssGrowthMb: MemoryDeltaMb,
    /** Where the figures come from: the runtime's counters, or /proc/self/status (VmRSS, VmHWM) where the runtime reads 0 (qemu user emulation). Optional for older agents. */
    source: z.enum(['runtime', 'proc-status']).optional(),
  }),
  temperature: z.object({ beforeC: TempC.nullable(), peakC: TempC.nullable(), afterC: TempC.nullable() }),
  throttling: z.object({
    maxClockDropPct: Pct.nullable(),
    cpuMaxFreqMHz: MHz.nullable(),
    firmwareThrottled: z.boolean().nullable(),
    firmwareFlags: z.array(shortText).max(64).nullable(),
  }),
  sweep: z.array(ProfileRun).max(256).nullable(),
  wallS: ProfileWallS,
  providerOptions: ProviderOptions.optional(),
  /** The on-device check's detections, when the job asked for one. */
  check: CheckReport.optional(),
  /** Time per node and per channel group, when the job asked for an operator profile. */
  opProfile: OpProfileReport.optional(),
  /** Why the asked operator profile is missing; the measurement above stands. */
  opProfileError: z.string().max(2000).optional(),
  /** What else ran on the device while measuring. */
  environment: z.object({
    load1: Load.nullable(),
    load5: Load.nullable(),
    servingPaused: z.boolean(),
    topProcesses: z.array(z.object({ name: shortText, pid: Pid, cpuPct: CpuPct })).max(64),
  }),
});
export type ProfileReport = z.infer<typeof ProfileReport>;

export const Result = z.object({
  ...envelope,
  jobId: JOB_ID,
  deviceId: z.string().max(64),
  kind: z.literal('profile'),
  artifactSha256: sha256,
  candidateId: z.string().max(128).optional(),
  ok: z.boolean(),
  error: z.string().max(4000).optional(),
  profile: ProfileReport.optional(),
});
export type Result = z.infer<typeof Result>;

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

// ---- Detections out and the annotated snapshot (issue #19) ----

/** One box the serving model found, in the source frame's own pixels, with its class. */
export const DetectionBox = z.object({
  /** x1, y1, x2, y2 in the source frame's pixels (not the model input's). */
  box: z.tuple([Coordinate, Coordinate, Coordinate, Coordinate]),
  classId: z.number().int().min(0).max(100_000),
  /** From the model's ultralytics `names` metadata; the id as text when the model carries none. */
  className: z.string().max(64),
  score: z.number().min(0).max(1),
});
export type DetectionBox = z.infer<typeof DetectionBox>;

/** What the serving model found on one served frame: a line of `--detections`, an MQTT `detections` message, an SSE event. */
export const DetectionsMessage = z.object({
  ...envelope,
  /** The serving candidate (desired state's candidateId); null when the desired state named none. */
  candidateId: z.string().max(128).nullable(),
  sha256,
  /** Frames served since the agent started, this one included (one counter across model changes). */
  seq: z.number().int().nonnegative(),
  /** The source frame's size: the boxes' pixel space. */
  frame: z.object({ width: FrameSide, height: FrameSide }),
  // the detector keeps at most 300 per frame (ultralytics' max_det)
  boxes: z.array(DetectionBox).max(300),
});
export type DetectionsMessage = z.infer<typeof DetectionsMessage>;

/** Cap of a snapshot's JPEG: small enough to send every few seconds from a Pi on a slow uplink. */
export const SNAPSHOT_MAX_BYTES = 64 * 1024;

/** A served frame with its boxes and class names drawn on, as a JPEG (see compress/detect/annotate.ts). */
export const SnapshotMessage = z.object({
  ...envelope,
  candidateId: z.string().max(128).nullable(),
  sha256,
  /** The served frame's seq (as in its detections record). */
  seq: z.number().int().nonnegative(),
  /** The source frame's size, and the JPEG's own (smaller when it was scaled to fit the cap). */
  frame: z.object({ width: FrameSide, height: FrameSide }),
  image: z.object({ width: FrameSide, height: FrameSide, quality: z.number().int().min(1).max(100) }),
  boxes: z.number().int().min(0).max(300),
  /** The JPEG, base64; at most SNAPSHOT_MAX_BYTES decoded. */
  jpeg: z
    .string()
    .max(Math.ceil(SNAPSHOT_MAX_BYTES / 3) * 4)
    .regex(/^[A-Za-z0-9+/]*={0,2}$/, 'jpeg must be base64')
    .refine((s) => s.startsWith('/9j/'), 'jpeg is not a JPEG (no SOI marker)'),
});
export type SnapshotMessage = z.infer<typeof SnapshotMessage>;
