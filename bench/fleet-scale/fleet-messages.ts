// What a simulated device says, in the protocol's own types
// (protocol/messages.ts is the contract): 8 device classes with their
// inventories and speeds, and the messages an agent sends.
import { createHash } from 'node:crypto';
import type { Heartbeat, Hello, Job, LatencyStats, Reported, Result, Telemetry } from '../../protocol/messages.js';
import { PROTOCOL_VERSION } from '../../protocol/topics.js';

export interface DeviceClassSpec {
  board: string;
  cpu: string;
  cores: number;
  memGb: number;
  /** End-to-end FPS on the ladder's largest candidate; smaller ones run faster by their FLOPs. */
  fps: number;
}

/** Eight classes, roughly a mixed fleet's share of Pis and Jetsons. */
export const CLASSES: DeviceClassSpec[] = [
  { board: 'Raspberry Pi 4 Model B Rev 1.5', cpu: 'Cortex-A72', cores: 4, memGb: 4, fps: 3 },
  { board: 'Raspberry Pi 5 Model B Rev 1.0', cpu: 'Cortex-A76', cores: 4, memGb: 8, fps: 7 },
  { board: 'Raspberry Pi 5 Model B Rev 1.1', cpu: 'Cortex-A76', cores: 4, memGb: 4, fps: 6.5 },
  { board: 'Raspberry Pi Compute Module 4 Rev 1.0', cpu: 'Cortex-A72', cores: 4, memGb: 2, fps: 2.5 },
  { board: 'NVIDIA Jetson Orin Nano Developer Kit', cpu: 'ARMv8 Processor rev 1 (v8l)', cores: 6, memGb: 8, fps: 24 },
  { board: 'NVIDIA Jetson Xavier NX Developer Kit', cpu: 'ARMv8 Processor rev 0 (v8l)', cores: 6, memGb: 8, fps: 15 },
  { board: 'NVIDIA Jetson AGX Orin Developer Kit', cpu: 'ARMv8 Processor rev 1 (v8l)', cores: 12, memGb: 32, fps: 60 },
  { board: 'NVIDIA Jetson Nano Developer Kit', cpu: 'ARMv8 Processor rev 1 (v8l)', cores: 4, memGb: 4, fps: 4 },
];

export const classIdOf = (c: DeviceClassSpec) => createHash('sha256').update(c.board).digest('hex').slice(0, 16);

export function hello(id: string, c: DeviceClassSpec): Hello {
  return {
    v: PROTOCOL_VERSION,
    ts: Date.now(),
    deviceClass: classIdOf(c),
    inventory: { hostname: id, cpuModel: c.cpu, cpuCores: c.cores, cpuPhysicalCores: c.cores, arch: 'arm64', memTotalBytes: c.memGb * 1024 ** 3, os: 'Debian GNU/Linux 12', kernel: '6.6.31', boardModel: c.board, gpus: [], executionProviders: ['cpu'], onnxruntimeVersion: '1.30.0', edgefitVersion: '0.1.0' },
  };
}

export function heartbeat(c: DeviceClassSpec, startedAt: number, intervalS: number): Heartbeat {
  const now = Date.now();
  return { v: PROTOCOL_VERSION, ts: now, uptimeS: 86_400, agentUptimeS: (now - startedAt) / 1000, load1: 1.2, memUsedBytes: c.memGb * 0.4 * 1024 ** 3, memTotalBytes: c.memGb * 1024 ** 3, temperatureC: 48 + Math.random() * 10, intervalS };
}

export function telemetry(fps: number, modelSha256: string): Telemetry {
  const f = fps * (0.95 + Math.random() * 0.1);
  return { v: PROTOCOL_VERSION, ts: Date.now(), fps: f, latencyP50Ms: 1000 / f, latencyP95Ms: 1150 / f, memoryMb: 180, temperatureC: 50 + Math.random() * 10, throttled: false, modelSha256, errors: 0 };
}

function latency(ms: number): LatencyStats {
  return { n: 50, minMs: ms * 0.9, p50Ms: ms, p90Ms: ms * 1.08, p95Ms: ms * 1.1, p99Ms: ms * 1.2, maxMs: ms * 1.3, meanMs: ms, stdMs: ms * 0.05 };
}

export function result(deviceId: string, job: Job, fps: number): Result {
  return {
    v: PROTOCOL_VERSION,
    ts: Date.now(),
    jobId: job.jobId,
    deviceId,
    kind: 'profile',
    artifactSha256: job.artifact.sha256,
    ...(job.candidateId ? { candidateId: job.candidateId } : {}),
    ok: true,
    profile: {
      threads: null,
      sessionCreateMs: 40,
      warmupRuns: job.options.warmup ?? 5,
      model: latency(800 / fps),
      modelFps: fps * 1.25,
      endToEnd: latency(1000 / fps),
      endToEndFps: fps,
      sustained: null,
      cpuPct: 350,
      ep: job.options.ep,
      modelSha256: job.artifact.sha256,
      inputShape: [1, 3, 64, 64],
      outputShape: [1, 6, 84],
      frame: { width: 64, height: 64, source: 'synthetic' },
      memory: { rssAfterLoadMb: 100, peakRssMb: 120, rssGrowthMb: 1 },
      temperature: { beforeC: 50, peakC: 55, afterC: 52 },
      throttling: { maxClockDropPct: 0, cpuMaxFreqMHz: 2400, firmwareThrottled: null, firmwareFlags: null },
      sweep: null,
      wallS: 2,
      environment: { load1: 1, load5: 1, servingPaused: false, topProcesses: [] },
    },
  };
}

export function reported(generation: number, rolloutId: string | undefined, state: Reported['state'], model: { sha256: string; candidateId?: string } | null): Reported {
  return {
    v: PROTOCOL_VERSION,
    ts: Date.now(),
    generation,
    ...(rolloutId ? { rolloutId } : {}),
    state,
    activeModel: state === 'healthy' && model ? { sha256: model.sha256, generation, ...(model.candidateId ? { candidateId: model.candidateId } : {}) } : null,
    slo: state === 'healthy' ? { met: true, violations: [] } : null,
  };
}
