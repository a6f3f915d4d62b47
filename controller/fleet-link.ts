import mqtt, { type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { Heartbeat, Hello, Presence, decode } from '../protocol/messages.js';
import { allDevicesTopic, parseDeviceTopic } from '../protocol/topics.js';
import { CONTROLLER_USER, type Registry } from './registry.js';

export interface FleetLinkOptions {
  brokerUrl: string;
  secret: string;
  registry: Registry;
  log: Logger;
}

/**
 * The controller's MQTT client: turns device messages into registry updates.
 * Every payload is validated; a bad one is logged with its reason and dropped,
 * and nothing a device sends can stop the controller.
 */
export class FleetLink {
  readonly client: MqttClient;

  private constructor(client: MqttClient) {
    this.client = client;
  }

  static async connect(opts: FleetLinkOptions): Promise<FleetLink> {
    const { log, registry } = opts;
    const client = mqtt.connect(opts.brokerUrl, {
      username: CONTROLLER_USER,
      password: opts.secret,
      clientId: `${CONTROLLER_USER}-${process.pid}`,
      reconnectPeriod: 1000,
      connectTimeout: 10_000,
    });
    client.on('message', (topic, payload) => {
      try {
        handle(topic, payload);
      } catch (err) {
        log.error({ topic, err: (err as Error).message }, 'device message handling failed');
      }
    });
    client.on('error', (err) => log.warn({ err: err.message }, 'controller mqtt error'));
    client.on('reconnect', () => log.debug('controller mqtt reconnecting'));

    function handle(topic: string, payload: Buffer): void {
      const route = parseDeviceTopic(topic);
      if (!route) return;
      if (!registry.get(route.id)) {
        log.warn({ device: route.id, topic }, 'message from unregistered device dropped');
        return;
      }
      switch (route.channel) {
        case 'hello': {
          const msg = decode(Hello, payload);
          if (!msg.ok) return log.warn({ device: route.id, reason: msg.reason }, 'malformed hello dropped');
          registry.recordHello(route.id, msg.value);
          log.info({ device: route.id, class: msg.value.deviceClass }, 'device hello');
          return;
        }
        case 'presence': {
          // An empty retained payload clears presence: nothing to record.
          if (payload.length === 0) return;
          const msg = decode(Presence, payload);
          if (!msg.ok) return log.warn({ device: route.id, reason: msg.reason }, 'malformed presence dropped');
          registry.recordPresence(route.id, msg.value.state === 'online');
          log.info({ device: route.id, state: msg.value.state }, 'device presence');
          return;
        }
        case 'heartbeat': {
          const msg = decode(Heartbeat, payload);
          if (!msg.ok) return log.warn({ device: route.id, reason: msg.reason }, 'malformed heartbeat dropped');
          registry.recordHeartbeat(route.id, msg.value);
          return;
        }
        default:
          return;
      }
    }

    await new Promise<void>((resolve, reject) => {
      const fail = (err: Error) => reject(new Error(`cannot connect to MQTT broker ${opts.brokerUrl}: ${err.message}`));
      client.once('error', fail);
      client.once('connect', () => {
        client.off('error', fail);
        resolve();
      });
    });
    await client.subscribeAsync((['hello', 'presence', 'heartbeat'] as const).map((c) => allDevicesTopic(c)), { qos: 1 });
    log.info({ broker: opts.brokerUrl }, 'controller connected to broker');
    return new FleetLink(client);
  }

  async close(): Promise<void> {
    await this.client.endAsync();
  }
}
