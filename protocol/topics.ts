// MQTT topic layout. Every device lives under its own subtree; the broker's ACL
// lets a device touch nothing else, so `{id}` in a topic is trustworthy.

export const PROTOCOL_VERSION = 1;
export const TOPIC_ROOT = `edgefit/v${PROTOCOL_VERSION}/devices`;

/** Device ids become topic levels and usernames: no wildcards, no separators. */
export const DEVICE_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** What a device publishes. */
export const DEVICE_PUBLISHES = ['hello', 'presence', 'heartbeat', 'telemetry', 'results', 'reported'] as const;
/** What a device subscribes to; the controller publishes these. */
export const DEVICE_SUBSCRIBES = ['desired', 'jobs'] as const;

export type DeviceChannel = (typeof DEVICE_PUBLISHES)[number] | (typeof DEVICE_SUBSCRIBES)[number];

export function deviceTopic(id: string, channel: DeviceChannel): string {
  return `${TOPIC_ROOT}/${id}/${channel}`;
}

/** Subscription filter for one channel of every device. */
export function allDevicesTopic(channel: DeviceChannel): string {
  return `${TOPIC_ROOT}/+/${channel}`;
}

/** Splits a device topic into its id and channel; undefined for anything else. */
export function parseDeviceTopic(topic: string): { id: string; channel: DeviceChannel } | undefined {
  const prefix = `${TOPIC_ROOT}/`;
  if (!topic.startsWith(prefix)) return undefined;
  const rest = topic.slice(prefix.length).split('/');
  if (rest.length !== 2) return undefined;
  const [id, channel] = rest;
  if (!DEVICE_ID_PATTERN.test(id)) return undefined;
  if (!(DEVICE_PUBLISHES as readonly string[]).includes(channel) && !(DEVICE_SUBSCRIBES as readonly string[]).includes(channel)) return undefined;
  return { id, channel: channel as DeviceChannel };
}

/** Broker payload limit: larger publishes are refused before they are buffered. */
export const MAX_PAYLOAD_BYTES = 1024 * 1024;
