import type { Logger } from 'pino';
import { CHANNELS, DEVICE_PUBLISHES, decodeFor, parseDeviceTopic, type DeviceChannel, type MessageOf } from '../protocol/channels.js';
import { deviceTimestampIssue } from '../protocol/ranges.js';
import { allDevicesTopic } from '../protocol/topics.js';
import type { FleetCounters } from './metrics/counters.js';
import { schemaRejection } from './metrics/reasons.js';

/**
 * One handler per device-to-controller channel, given the decoded message:
 * a channel added to the table (protocol/channels.ts) does not type-check
 * here until the controller says what it does with it.
 */
export type DeviceHandlers = { [C in DeviceChannel]: (deviceId: string, message: MessageOf<C>, retained: boolean) => void };

/** The controller's subscriptions: every device-to-controller channel of every device, at its channel's QoS. */
export function controllerSubscriptions(): Record<string, { qos: 0 | 1 | 2 }> {
  return Object.fromEntries(DEVICE_PUBLISHES.map((c) => [allDevicesTopic(c), { qos: CHANNELS[c].qos }]));
}

/**
 * Routes one MQTT message to its channel's handler. The topic names the
 * device (the broker's ACL makes that trustworthy); a device the registry does
 * not know, a payload that fails its channel's schema (a number outside its
 * physical range included, see protocol/ranges.ts), a timestamp the
 * controller's clock cannot believe, or a topic outside the table is logged
 * with the reason, one line, and dropped (and counted by the kind of reason,
 * metrics/reasons.ts). An empty payload on a retained channel clears it at the
 * broker: nothing to handle.
 */
export function deviceDispatcher(
  handlers: DeviceHandlers,
  opts: { isRegistered(deviceId: string): boolean; log: Logger; now?: () => number; counters?: Pick<FleetCounters, 'received' | 'rejected'> },
): (topic: string, payload: Buffer, retained: boolean) => void {
  const { log, counters } = opts;
  const now = opts.now ?? Date.now;
  function route<C extends DeviceChannel>(channel: C, deviceId: string, payload: Buffer, retained: boolean): void {
    const spec = CHANNELS[channel];
    if (spec.retain && payload.length === 0) return;
    const msg = decodeFor(channel, payload);
    const reason = msg.ok ? deviceTimestampIssue((msg.value as { ts: number }).ts, now()) : msg.reason;
    if (!msg.ok || reason !== undefined) {
      counters?.rejected(msg.ok ? 'clock' : schemaRejection(spec.schema, payload));
      return void log.warn({ device: deviceId, channel, reason }, `malformed ${spec.noun} dropped`);
    }
    (handlers[channel] as (deviceId: string, message: MessageOf<C>, retained: boolean) => void)(deviceId, msg.value, retained);
  }
  return (topic, payload, retained) => {
    const parsed = parseDeviceTopic(topic);
    if (!parsed) return;
    // A clear, not a message: `devices remove` clears a removed device's retained topics, and the controller hears its own clears.
    if (payload.length === 0 && CHANNELS[parsed.channel].retain) return;
    const { channel } = parsed;
    // The controller's own channels come back only if something subscribed it to them: not a device's message.
    if (CHANNELS[channel].direction !== 'device-to-controller') return;
    counters?.received(channel as DeviceChannel);
    if (!opts.isRegistered(parsed.id)) {
      counters?.rejected('unregistered');
      return void log.warn({ device: parsed.id, topic }, 'message from unregistered device dropped');
    }
    route(channel as DeviceChannel, parsed.id, payload, retained);
  };
}
