import type { Channel } from './channels.js';

// MQTT topic layout. Every device lives under its own subtree; the broker's ACL
// lets a device touch nothing else, so `{id}` in a topic is trustworthy.

export const PROTOCOL_VERSION = 1;
export const TOPIC_ROOT = `edgefit/v${PROTOCOL_VERSION}/devices`;

/** Device ids become topic levels and usernames: no wildcards, no separators. */
export const DEVICE_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

// The channels under a device's topic, and which way each one goes, are the
// table in channels.ts; this file is the topic layout only.

export function deviceTopic(id: string, channel: Channel): string {
  return `${TOPIC_ROOT}/${id}/${channel}`;
}

/** Subscription filter for one channel of every device. */
export function allDevicesTopic(channel: Channel): string {
  return `${TOPIC_ROOT}/+/${channel}`;
}

/** Broker payload limit: larger publishes are refused before they are buffered. */
export const MAX_PAYLOAD_BYTES = 1024 * 1024;
