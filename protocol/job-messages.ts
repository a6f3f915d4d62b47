import { z } from 'zod';
import { ArtifactRef } from './artifacts.js';
import { envelope, sha256, shortText } from './envelope.js';
import { Coordinate, Count, CpuPct, DropPct, Fps, FrameSide, Load, MemoryDeltaMb, MemoryMb, MHz, Ms, Pct, Pid, ProfileWallS, SessionCreateMs, TempC, TensorDim } from './ranges.js';

// Profile jobs and their results: what the controller asks a device to measure
// (and check), and what it answers. Re-exported by protocol/messages.ts.

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

