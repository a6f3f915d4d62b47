import type { z } from 'zod';
import { decode, Desired, DetectionsMessage, Heartbeat, Hello, Job, Presence, Reported, Result, SnapshotMessage, Telemetry } from './messages.js';
import { DEVICE_ID_PATTERN, TOPIC_ROOT } from './topics.js';

// The protocol as one map: every channel under a device's topic, its message,
// who sends it, and how it travels. The controller's subscriptions and
// dispatch, the agent's subscriptions and publishes, and both brokers' ACLs
// are read from this table, so adding a message is one entry here (and the
// type checker then asks the receiving side for its handler).

/** Who publishes on a channel; the other side only reads it. */
export type Direction = 'device-to-controller' | 'controller-to-device';

export interface ChannelSpec {
  schema: z.ZodTypeAny;
  direction: Direction;
  qos: 0 | 1 | 2;
  /**
   * Retained: the broker keeps the last message for whoever subscribes next,
   * and an empty payload clears it (the receiver skips it, nothing to decode).
   */
  retain: boolean;
  /** What one message is called in logs and errors ('malformed result dropped'). */
  noun: string;
}

export const CHANNELS = {
  hello: { schema: Hello, direction: 'device-to-controller', qos: 1, retain: false, noun: 'hello' },
  presence: { schema: Presence, direction: 'device-to-controller', qos: 1, retain: true, noun: 'presence' },
  heartbeat: { schema: Heartbeat, direction: 'device-to-controller', qos: 1, retain: false, noun: 'heartbeat' },
  results: { schema: Result, direction: 'device-to-controller', qos: 1, retain: false, noun: 'result' },
  telemetry: { schema: Telemetry, direction: 'device-to-controller', qos: 1, retain: false, noun: 'telemetry' },
  reported: { schema: Reported, direction: 'device-to-controller', qos: 1, retain: true, noun: 'reported state' },
  // Off by default (--publish-detections HZ, rate-limited); a record is worth its moment only: qos 0, never retained.
  detections: { schema: DetectionsMessage, direction: 'device-to-controller', qos: 0, retain: false, noun: 'detections record' },
  // Not retained: a retained snapshot would outlive the agent that took it and show a dead camera's last frame as if current,
  // and the broker would hold up to 64 KiB per device; the controller keeps the latest in memory.
  snapshot: { schema: SnapshotMessage, direction: 'device-to-controller', qos: 0, retain: false, noun: 'snapshot' },
  jobs: { schema: Job, direction: 'controller-to-device', qos: 1, retain: false, noun: 'job' },
  desired: { schema: Desired, direction: 'controller-to-device', qos: 1, retain: true, noun: 'desired state' },
} as const satisfies Record<string, ChannelSpec>;

export type Channel = keyof typeof CHANNELS;
type ChannelsOf<D extends Direction> = { [C in Channel]: (typeof CHANNELS)[C]['direction'] extends D ? C : never }[Channel];
/** What a device publishes and the controller subscribes to. */
export type DeviceChannel = ChannelsOf<'device-to-controller'>;
/** What the controller publishes and a device subscribes to (its own only). */
export type ControllerChannel = ChannelsOf<'controller-to-device'>;

/** The message a channel carries, as the receiver holds it after decoding (defaults filled in). */
export type MessageOf<C extends Channel> = z.infer<(typeof CHANNELS)[C]['schema']>;
/** The message a channel carries, as a sender may write it (fields with defaults may be left out). */
export type MessageInput<C extends Channel> = z.input<(typeof CHANNELS)[C]['schema']>;

const ALL = Object.keys(CHANNELS) as Channel[];
export const DEVICE_PUBLISHES = ALL.filter((c): c is DeviceChannel => CHANNELS[c].direction === 'device-to-controller');
export const DEVICE_SUBSCRIBES = ALL.filter((c): c is ControllerChannel => CHANNELS[c].direction === 'controller-to-device');

/** The publish options of a channel: every publish on it travels alike. */
export function publishOptions(channel: Channel): { qos: 0 | 1 | 2; retain: boolean } {
  return { qos: CHANNELS[channel].qos, retain: CHANNELS[channel].retain };
}

export function isChannel(name: string): name is Channel {
  return Object.hasOwn(CHANNELS, name);
}

/** Splits a device topic into its id and channel; undefined for anything else. */
export function parseDeviceTopic(topic: string): { id: string; channel: Channel } | undefined {
  const prefix = `${TOPIC_ROOT}/`;
  if (!topic.startsWith(prefix)) return undefined;
  const rest = topic.slice(prefix.length).split('/');
  if (rest.length !== 2) return undefined;
  const [id, channel] = rest;
  if (!DEVICE_ID_PATTERN.test(id) || !isChannel(channel)) return undefined;
  return { id, channel };
}

/** The payload of one message on a channel; only that channel's message type-checks. */
export function encodeFor<C extends Channel>(channel: C, message: MessageInput<C>): Buffer {
  void channel;
  return Buffer.from(JSON.stringify(message));
}

export type Decoded<T> = { ok: true; value: T } | { ok: false; reason: string };

/** Parses a raw MQTT payload as JSON, then against its channel's schema; the reason on failure is one line. */
export function decodeFor<C extends Channel>(channel: C, payload: Uint8Array): Decoded<MessageOf<C>> {
  return decode(CHANNELS[channel].schema, payload) as Decoded<MessageOf<C>>;
}
