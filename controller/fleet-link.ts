import mqtt, { type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { CHANNELS, encodeFor, publishOptions, type ControllerChannel, type MessageOf } from '../protocol/channels.js';
import { firstIssue } from '../protocol/first-issue.js';
import type { Desired, DesiredInput, Job, JobInput, Result } from '../protocol/messages.js';
import { PROTOCOL_VERSION, deviceTopic } from '../protocol/topics.js';
import type { CheckRecord } from './check/checker.js';
import { controllerSubscriptions, deviceDispatcher } from './device-dispatch.js';
import type { FleetCounters } from './metrics/counters.js';
import { nextGeneration, type DesiredStore, type LiveStateStore, type ProfileStore } from './profiles.js';
import { CONTROLLER_USER, type Registry } from './registry.js';
import { ResultIntake } from './result-intake.js';
import { codedError, EdgefitError } from '../protocol/errors.js';

export interface FleetLinkOptions {
  brokerUrl: string;
  /** For an mqtts:// broker: the CAs to trust and the controller's client certificate, if any. */
  tls?: { ca: string[]; cert?: string; key?: string };
  secret: string;
  registry: Registry;
  profiles: ProfileStore;
  desired: DesiredStore;
  live: LiveStateStore;
  log: Logger;
  /** Judges a result's on-device check before it is stored (see ResultIntake). */
  judgeCheck?: (result: Result) => Promise<CheckRecord | undefined>;
  /** Messages in and out, refusals and profile results, for GET /metrics. */
  counters?: FleetCounters;
}

/** What a caller gives for a job: the envelope is filled in. */
export type JobRequest = Omit<JobInput, 'v' | 'ts'>;
/** What a caller gives for a desired state; without a generation, the next one after the stored state. */
export type DesiredRequest = Omit<DesiredInput, 'v' | 'ts' | 'generation'> & { generation?: number };

/** Desired states re-published at once after a (re)connect (see subscribeAndRepublish). */
const REPUBLISH_WINDOW = 200;

/** The broker cannot be reached now: nothing was sent, and nothing is queued to go later. */
export class BrokerUnavailableError extends codedError('E_BROKER_UNAVAILABLE') {
  override name = 'BrokerUnavailableError';
}

/**
 * The controller's MQTT client: turns device messages into registry updates.
 * Every payload is validated; a bad one is logged with its reason and dropped,
 * and nothing a device sends can stop the controller.
 */
export class FleetLink {
  readonly client: MqttClient;
  private readonly reconnectListeners = new Set<() => void>();

  private constructor(
    client: MqttClient,
    private readonly opts: FleetLinkOptions,
    private readonly results: ResultIntake,
    private readonly helloListeners: Set<(deviceId: string) => void>,
  ) {
    this.client = client;
  }

  static async connect(opts: FleetLinkOptions): Promise<FleetLink> {
    const { log, registry, live } = opts;
    const { counters } = opts;
    const results = new ResultIntake(opts.profiles, log, undefined, opts.judgeCheck, counters && ((r) => counters.resultStored(r.ok)));
    const helloListeners = new Set<(deviceId: string) => void>();
    const client = mqtt.connect(opts.brokerUrl, {
      username: CONTROLLER_USER,
      password: opts.secret,
      clientId: `${CONTROLLER_USER}-${process.pid}`,
      reconnectPeriod: 1000,
      connectTimeout: 10_000,
      ...opts.tls,
    });
    const handle = deviceDispatcher(
      {
        hello(deviceId, hello) {
          registry.recordHello(deviceId, hello);
          log.info({ device: deviceId, class: hello.deviceClass }, 'device hello');
          for (const listener of helloListeners) listener(deviceId);
        },
        presence(deviceId, presence, retained) {
          registry.recordPresence(deviceId, presence.state === 'online', Date.now(), retained);
          log.info({ device: deviceId, state: presence.state, retained }, 'device presence');
        },
        heartbeat(deviceId, heartbeat) {
          registry.recordHeartbeat(deviceId, heartbeat);
        },
        results(deviceId, result) {
          if (result.deviceId !== deviceId) {
            counters?.rejected('wrong-device');
            return log.warn({ device: deviceId, claimed: result.deviceId }, 'result naming another device dropped');
          }
          results.store(result);
        },
        telemetry(deviceId, telemetry) {
          live.recordTelemetry(deviceId, telemetry);
        },
        reported(deviceId, reported) {
          live.recordReported(deviceId, reported);
          log.info({ device: deviceId, generation: reported.generation, state: reported.state, error: reported.error }, 'device reported');
        },
        detections(deviceId, record) {
          live.outputs.recordDetections(deviceId, record);
        },
        snapshot(deviceId, snapshot) {
          live.outputs.recordSnapshot(deviceId, snapshot);
        },
      },
      { isRegistered: (id) => registry.has(id), log, counters },
    );
    client.on('message', (topic, payload, packet) => {
      try {
        handle(topic, payload, packet.retain);
      } catch (err) {
        log.error({ topic, err: (err as Error).message }, 'device message handling failed');
      }
    });
    client.on('error', (err) => log.warn({ err: err.message }, 'controller mqtt error'));
    client.on('reconnect', () => log.debug('controller mqtt reconnecting'));

    await new Promise<void>((resolve, reject) => {
      const fail = (err: Error) => reject(new Error(`cannot connect to MQTT broker ${opts.brokerUrl}: ${err.message}`));
      client.once('error', fail);
      client.once('connect', () => {
        client.off('error', fail);
        resolve();
      });
    });
    const link = new FleetLink(client, opts, results, helloListeners);
    await link.subscribeAndRepublish();
    log.info({ broker: opts.brokerUrl }, 'controller connected to broker');
    client.on('connect', () => void link.restore());
    return link;
  }

  /**
   * Subscribes to every device channel, then gives every device its desired
   * state again from SQLite: an embedded broker keeps retained messages in
   * memory only, and a restarted Mosquitto has at most its last autosave.
   */
  private async subscribeAndRepublish(): Promise<void> {
    await this.client.subscribeAsync(controllerSubscriptions());
    // REPUBLISH_WINDOW at a time: with one awaited PUBACK each, a restarted controller had its 1,000 devices
    // back after 67 s on a loaded 2-core box (each await waits out a turn of a busy event loop); 16 s so.
    const ids = this.opts.desired.deviceIds();
    for (let i = 0; i < ids.length; i += REPUBLISH_WINDOW) {
      await Promise.all(
        ids.slice(i, i + REPUBLISH_WINDOW).map((deviceId) => {
          // read at each step: a rollout may set a newer one while an older one is on its way
          const desired = this.opts.desired.get(deviceId);
          return desired && this.opts.registry.has(deviceId) ? this.publishDesired(deviceId, desired) : undefined;
        }),
      );
    }
  }

  /**
   * After a reconnect the broker may be a new one, and what devices sent
   * meanwhile went to nobody (a result the broker acknowledged, a hello):
   * subscribe and re-publish as at the start, then tell the listeners, which
   * ask again for what they wait on.
   */
  private async restore(): Promise<void> {
    try {
      await this.subscribeAndRepublish();
      this.opts.log.info({ broker: this.opts.brokerUrl }, 'controller reconnected to broker; desired states re-published');
      for (const listener of this.reconnectListeners) listener();
    } catch (err) {
      this.opts.log.warn({ err: (err as Error).message }, 'cannot restore the broker session; the next reconnect tries again');
    }
  }

  /** Called on every hello: an agent says it on each connect, once subscribed to its jobs and desired state. */
  onHello(listener: (deviceId: string) => void): () => void {
    this.helloListeners.add(listener);
    return () => this.helloListeners.delete(listener);
  }

  /** Called after each reconnect to the broker, once the subscriptions stand again. */
  onReconnect(listener: () => void): () => void {
    this.reconnectListeners.add(listener);
    return () => this.reconnectListeners.delete(listener);
  }

  /**
   * Sends a profiling job (QoS 1). The device answers on its results channel;
   * a job it already ran is answered from its stored result. Throws
   * BrokerUnavailableError while the broker is away, rather than wait for it.
   */
  async sendJob(deviceId: string, request: JobRequest): Promise<Job> {
    this.requireDevice(deviceId);
    const job = this.validate('jobs', { ...request, v: PROTOCOL_VERSION, ts: Date.now() });
    if (!this.client.connected) throw new BrokerUnavailableError(`cannot send job ${job.jobId}: the broker ${this.opts.brokerUrl} is unreachable`);
    await this.client.publishAsync(deviceTopic(deviceId, 'jobs'), encodeFor('jobs', job), publishOptions('jobs'));
    this.opts.counters?.sent('jobs');
    this.opts.counters?.jobSent();
    this.opts.log.info({ device: deviceId, jobId: job.jobId, sha256: job.artifact.sha256 }, 'job sent');
    return job;
  }

  /**
   * Sets what a device should serve: stored, and published retained so the
   * device gets it whenever it connects. While the broker is away it is only
   * stored: the reconnect publishes every stored desired state.
   */
  async setDesired(deviceId: string, request: DesiredRequest): Promise<Desired> {
    this.requireDevice(deviceId);
    const generation = request.generation ?? nextGeneration(this.opts.desired.get(deviceId), this.opts.live.get(deviceId).reported);
    const desired = this.validate('desired', { ...request, generation, v: PROTOCOL_VERSION, ts: Date.now() });
    this.opts.desired.set(deviceId, desired);
    const published = this.client.connected;
    if (published) await this.publishDesired(deviceId, desired);
    this.opts.log.info({ device: deviceId, generation, sha256: desired.model?.sha256 ?? null, published }, 'desired state set');
    return desired;
  }

  private async publishDesired(deviceId: string, desired: Desired): Promise<void> {
    await this.client.publishAsync(deviceTopic(deviceId, 'desired'), encodeFor('desired', desired), publishOptions('desired'));
    this.opts.counters?.sent('desired');
  }

  private requireDevice(deviceId: string): void {
    if (!this.opts.registry.get(deviceId)) throw new EdgefitError('E_DEVICE_UNKNOWN', { id: deviceId });
  }

  /** Checks what the controller is about to send against its channel's schema; the error names the first problem. */
  private validate<C extends ControllerChannel>(channel: C, value: unknown): MessageOf<C> {
    const parsed = CHANNELS[channel].schema.safeParse(value);
    if (!parsed.success) throw new EdgefitError('E_DEVICE_INVALID', { reason: `invalid ${CHANNELS[channel].noun}: ${firstIssue(parsed.error)}` });
    return parsed.data as MessageOf<C>;
  }

  async close(): Promise<void> {
    this.results.stop();
    await this.client.endAsync();
  }
}
