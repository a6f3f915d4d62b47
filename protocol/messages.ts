import { z } from 'zod';
import { PROTOCOL_VERSION } from './topics.js';

// Small composable types: each message is an envelope with the protocol version
// and a timestamp, plus its own body. Numbers a sensor may lack are nullable,
// never defaulted: a missing sensor is null, not a guess.

const envelope = {
  v: z.literal(PROTOCOL_VERSION),
  ts: z.number().int().nonnegative(),
};

const nullableNumber = z.number().finite().nullable();

export const Inventory = z.object({
  hostname: z.string().max(255),
  cpuModel: z.string().max(255),
  cpuCores: z.number().int().positive(),
  cpuPhysicalCores: z.number().int().positive().nullable(),
  arch: z.string().max(32),
  memTotalBytes: z.number().int().nonnegative(),
  os: z.string().max(255),
  kernel: z.string().max(255),
  boardModel: z.string().max(255).nullable(),
  gpus: z.array(z.string().max(255)).max(16),
  executionProviders: z.array(z.string().max(64)).max(16),
  onnxruntimeVersion: z.string().max(32),
  edgefitVersion: z.string().max(32),
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

export const Heartbeat = z.object({
  ...envelope,
  uptimeS: z.number().nonnegative(),
  agentUptimeS: z.number().nonnegative(),
  load1: nullableNumber,
  memUsedBytes: z.number().nonnegative(),
  memTotalBytes: z.number().nonnegative(),
  temperatureC: nullableNumber,
});
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
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { ok: false, reason: `${issue.path.join('.') || '(root)'}: ${issue.message}` };
  }
  return { ok: true, value: parsed.data };
}

export function encode(message: unknown): Buffer {
  return Buffer.from(JSON.stringify(message));
}
