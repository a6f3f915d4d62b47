import { randomBytes } from 'node:crypto';
import mqtt, { type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { CONTROLLER_USER } from '../registry.js';
import { CONTROL_TOPIC, RESPONSE_TOPIC } from './acl.js';
import { SETTLED_ERRORS, type DynsecCommand } from './commands.js';

// The controller's line to Mosquitto's dynamic-security plugin: JSON commands
// published on $CONTROL/dynamic-security/v1, answered on .../response (QoS 0,
// one message with one response per command, in order, each carrying the
// command's correlationData). Its own MQTT connection as the plugin's admin,
// apart from the fleet link, so the device traffic never waits behind it.

export interface DynsecResponse {
  command: string;
  error?: string;
  data?: unknown;
  correlationData?: string;
}

/** The plugin did not answer (broker away, plugin not loaded, controller not its admin): nothing is known to have changed. */
export class DynsecUnavailableError extends Error {
  override name = 'DynsecUnavailableError';
}

/** The plugin answered a command with an error that leaves the broker otherwise than the command meant. */
export class DynsecCommandError extends Error {
  override name = 'DynsecCommandError';
}

export interface DynsecControlOptions {
  brokerUrl: string;
  tls?: { ca: string[]; cert?: string; key?: string };
  secret: string;
  log: Logger;
  /** How long one message may wait for its answer (default 5 s). */
  timeoutMs?: number;
  /** Run after every (re)connect, once the answers are subscribed to: the reconcile. */
  onConnect?: () => Promise<void>;
}

export class DynsecControl {
  private readonly prefix = randomBytes(6).toString('hex');
  private seq = 0;
  private readonly waiting = new Map<string, (responses: DynsecResponse[]) => void>();
  private ready = false;

  private constructor(
    readonly client: MqttClient,
    private readonly opts: DynsecControlOptions,
  ) {}

  /** Connects as the admin and resolves once answers can arrive; a broker that cannot be reached ends it with one line. */
  static async connect(opts: DynsecControlOptions): Promise<DynsecControl> {
    const client = mqtt.connect(opts.brokerUrl, {
      username: CONTROLLER_USER,
      password: opts.secret,
      clientId: `${CONTROLLER_USER}-dynsec-${process.pid}`,
      reconnectPeriod: 1000,
      connectTimeout: 10_000,
      ...opts.tls,
    });
    const control = new DynsecControl(client, opts);
    client.on('message', (topic, payload) => topic === RESPONSE_TOPIC && control.answer(payload));
    client.on('close', () => (control.ready = false));
    client.on('error', (err) => opts.log.warn({ err: err.message }, 'dynamic security: mqtt error'));
    await new Promise<void>((resolve, reject) => {
      const fail = (err: Error) => {
        client.end(true);
        reject(new Error(`cannot connect to MQTT broker ${opts.brokerUrl} as the dynamic-security admin: ${err.message}`));
      };
      client.once('error', fail);
      client.once('connect', () => {
        client.off('error', fail);
        resolve();
      });
    });
    await control.subscribe();
    client.on('connect', () => void control.subscribe().then(() => control.opts.onConnect?.()).catch((err: Error) => opts.log.warn({ err: err.message }, 'dynamic security: reconcile after reconnect failed; the next reconnect tries again')));
    return control;
  }

  private async subscribe(): Promise<void> {
    await this.client.subscribeAsync(RESPONSE_TOPIC, { qos: 0 });
    this.ready = true;
  }

  /**
   * Sends the commands in one message and resolves with their answers in
   * order. Answers in SETTLED_ERRORS pass; any other error throws
   * DynsecCommandError, no answer within the timeout DynsecUnavailableError.
   */
  async send(commands: DynsecCommand[]): Promise<DynsecResponse[]> {
    const responses = await this.exchange(commands);
    const failed = responses.find((r) => r.error !== undefined && SETTLED_ERRORS[r.command] !== r.error);
    if (failed) throw new DynsecCommandError(`the broker's dynamic-security plugin refused ${failed.command}: ${failed.error}`);
    return responses;
  }

  /** Sends and returns the answers as they are, errors included. */
  async exchange(commands: DynsecCommand[]): Promise<DynsecResponse[]> {
    if (!this.ready || !this.client.connected) throw new DynsecUnavailableError(`the broker ${this.opts.brokerUrl} is unreachable: its dynamic-security plugin cannot be told`);
    const id = `edgefit-${this.prefix}-${++this.seq}`;
    const tagged = commands.map((c, i) => ({ ...c, correlationData: `${id}:${i}` }));
    const timeoutMs = this.opts.timeoutMs ?? 5000;
    const answered = new Promise<DynsecResponse[]>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(
          new DynsecUnavailableError(
            `the broker ${this.opts.brokerUrl} did not answer on ${CONTROL_TOPIC} within ${timeoutMs / 1000} s: is its dynamic-security plugin loaded (broker-config --dynsec) with ${CONTROLLER_USER} as its admin?`,
          ),
        );
      }, timeoutMs);
      this.waiting.set(id, (responses) => {
        clearTimeout(timer);
        this.waiting.delete(id);
        resolve(responses);
      });
    });
    try {
      await this.client.publishAsync(CONTROL_TOPIC, JSON.stringify({ commands: tagged }), { qos: 1 });
    } catch (err) {
      this.waiting.get(id)?.([]);
      throw new DynsecUnavailableError(`cannot send to ${CONTROL_TOPIC}: ${(err as Error).message}`);
    }
    const responses = await answered;
    // one answer per command, found by its correlation data (other admins' answers go to the same topic)
    return tagged.map((c, i) => responses.find((r) => r.correlationData === c.correlationData) ?? { command: commands[i].command, error: 'no answer to this command' });
  }

  /** An answer on the response topic: for one of ours, hand it to its sender; others' (mosquitto_ctrl's) are not ours. */
  private answer(payload: Buffer): void {
    let parsed: unknown;
    try {
      parsed = JSON.parse(payload.toString('utf8'));
    } catch {
      return void this.opts.log.warn('dynamic security: an answer that is not JSON dropped');
    }
    const responses = (parsed as { responses?: unknown }).responses;
    if (!Array.isArray(responses)) return;
    const mine = responses.filter((r): r is DynsecResponse => typeof r === 'object' && r !== null && typeof (r as DynsecResponse).correlationData === 'string');
    const id = mine[0]?.correlationData?.replace(/:\d+$/, '');
    if (id !== undefined) this.waiting.get(id)?.(mine);
  }

  async close(): Promise<void> {
    for (const resolve of this.waiting.values()) resolve([]);
    await this.client.endAsync();
  }
}
