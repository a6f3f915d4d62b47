import mqtt, { type MqttClient } from 'mqtt';
import cron, { type ScheduledTask } from 'node-cron';
import type { Logger } from 'pino';
import { encode, type Hello, type Inventory, type Presence } from '../protocol/messages.js';
import { DEVICE_ID_PATTERN, PROTOCOL_VERSION, deviceTopic, type DeviceChannel } from '../protocol/topics.js';
import { deviceClass } from './device-class.js';
import { readHeartbeat, type TemperatureSource } from './heartbeat.js';

export interface AgentOptions {
  brokerUrl: string;
  id: string;
  token: string;
  controllerUrl?: string;
  inventory: Inventory;
  temperature: TemperatureSource;
  heartbeatSeconds: number;
  keepaliveSeconds: number;
  log: Logger;
}

function presence(state: Presence['state']): Buffer {
  return encode({ v: PROTOCOL_VERSION, ts: Date.now(), state } satisfies Presence);
}

/**
 * The on-device daemon's MQTT side: announces itself on every (re)connect,
 * keeps a retained presence with a last will, and sends heartbeats.
 */
export class Agent {
  readonly deviceClass: string;
  private readonly startedAt = Date.now();
  private heartbeatTask?: ScheduledTask;

  private constructor(
    private readonly opts: AgentOptions,
    readonly client: MqttClient,
  ) {
    this.deviceClass = deviceClass(opts.inventory);
  }

  static start(opts: AgentOptions): Agent {
    if (!DEVICE_ID_PATTERN.test(opts.id)) throw new Error(`invalid device id '${opts.id}'`);
    if (!Number.isInteger(opts.heartbeatSeconds) || opts.heartbeatSeconds < 1 || opts.heartbeatSeconds > 59) {
      throw new Error('heartbeat interval must be a whole number of seconds in [1, 59]');
    }
    const client = mqtt.connect(opts.brokerUrl, {
      username: opts.id,
      password: opts.token,
      clientId: `edgefit-agent-${opts.id}`,
      keepalive: opts.keepaliveSeconds,
      reconnectPeriod: 2000,
      connectTimeout: 10_000,
      will: { topic: deviceTopic(opts.id, 'presence'), payload: presence('offline'), qos: 1, retain: true },
    });
    const agent = new Agent(opts, client);
    agent.wire();
    return agent;
  }

  private wire(): void {
    const { log, id } = this.opts;
    this.client.on('connect', () => {
      log.info({ device: id, broker: this.opts.brokerUrl, class: this.deviceClass }, 'agent connected');
      this.publish('presence', presence('online'), true);
      const hello: Hello = { v: PROTOCOL_VERSION, ts: Date.now(), inventory: this.opts.inventory, deviceClass: this.deviceClass };
      this.publish('hello', encode(hello), false);
      void this.sendHeartbeat();
    });
    this.client.on('error', (err) => {
      // A refused CONNACK (bad token) is final until someone fixes the token: say so plainly.
      log.error({ device: id, err: err.message }, 'agent mqtt error');
    });
    this.client.on('offline', () => log.warn({ device: id }, 'agent offline: broker unreachable, retrying'));
    this.heartbeatTask = cron.schedule(`*/${this.opts.heartbeatSeconds} * * * * *`, () => void this.sendHeartbeat(), { noOverlap: true });
  }

  publish(channel: DeviceChannel, payload: Buffer, retain: boolean): void {
    this.client.publish(deviceTopic(this.opts.id, channel), payload, { qos: 1, retain }, (err) => {
      if (err) this.opts.log.warn({ channel, err: err.message }, 'publish failed');
    });
  }

  private async sendHeartbeat(): Promise<void> {
    if (!this.client.connected) return;
    try {
      const heartbeat = await readHeartbeat(this.opts.temperature, this.startedAt);
      this.publish('heartbeat', encode(heartbeat), false);
    } catch (err) {
      this.opts.log.warn({ err: (err as Error).message }, 'heartbeat failed');
    }
  }

  /** A clean stop says goodbye explicitly; the last will covers unclean ones. */
  async stop(): Promise<void> {
    await this.heartbeatTask?.destroy();
    if (this.client.connected) {
      await this.client.publishAsync(deviceTopic(this.opts.id, 'presence'), presence('offline'), { qos: 1, retain: true }).catch(() => undefined);
    }
    await this.client.endAsync();
  }
}
