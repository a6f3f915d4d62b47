import type { z } from 'zod';

/**
 * Why the controller refused a device's message: the `reason` label of
 * edgefit_mqtt_messages_rejected_total. A fixed set, so the label stays
 * bounded whatever devices send.
 * - schema: not JSON, or not the channel's message (a field missing or of the wrong kind)
 * - out-of-range: a number outside its physical range (protocol/ranges.ts)
 * - clock: a timestamp the controller's clock cannot believe (before 2020, a day ahead)
 * - unregistered: from a device id the registry does not know (a device removed while connected)
 * - wrong-device: a profile result naming another device than the topic's
 * - too-large: a payload over the MQTT limit (embedded broker only: Mosquitto drops it unseen)
 * - acl: a publish outside the device's own topics (embedded broker only)
 */
export const REJECT_REASONS = ['schema', 'out-of-range', 'clock', 'unregistered', 'wrong-device', 'too-large', 'acl'] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];

/** zod's origins of a too_big/too_small issue that are numbers (strings and lists have lengths instead). */
const NUMERIC_ORIGINS: ReadonlySet<string> = new Set(['number', 'int', 'bigint']);

/**
 * Which kind of refusal a payload that failed its channel's schema is: judged
 * on the first issue, the one the log line names (protocol/first-issue.ts).
 * The payload is parsed again: only refused messages pay for it, and the
 * shared decoder (protocol/messages.ts) keeps its one-line answer.
 */
export function schemaRejection(schema: z.ZodTypeAny, payload: Uint8Array): 'schema' | 'out-of-range' {
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(payload).toString('utf8'));
  } catch {
    return 'schema';
  }
  const parsed = schema.safeParse(json);
  const issue = parsed.success ? undefined : parsed.error.issues[0];
  if (issue && (issue.code === 'too_big' || issue.code === 'too_small') && NUMERIC_ORIGINS.has(String(issue.origin))) return 'out-of-range';
  return 'schema';
}
