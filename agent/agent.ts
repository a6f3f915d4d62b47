import mqtt, { type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { DEVICE_SUBSCRIBES, encodeFor, publishOptions, type ControllerChannel, type DeviceChannel, type MessageInput } from '../protocol/channels.js';
import type { Inventory, Presence } from '../protocol/messages.js';
import { DEVICE_ID_PATTERN, PROTOCOL_VERSION, deviceTopic } from '../protocol/topics.js';
import { deviceClass } from './device-class.js';
import { readHeartbeat, type TemperatureSource } from './heartbeat.js';
import { HEARTBEAT_SECONDS, validHeartbeatSeconds } from './heartbeat-period.js';
import { heartbeatPhaseMs, nextHeartbeatDelayMs } from './heartbeat-schedule.js';
import { reconnectDelayMs } from './reconnect-backoff.js';
import { noArtifactSource, type ArtifactSource } from './jobs/model-source.js';
import { Outbox } from './jobs/outbox.js';
import { JobRunner } from './jobs/runner.js';
import { syntheticFrames, type FrameSource } from './serve/frames.js';
import { MeasurementLock } from './serve/lock.js';
import { Serving } from './serve/serving.js';
import { openSource, sourceName, type SourceSpec } from './source/index.js';
import { HandoffActivation, type HandoffOptions } from './handoff/activation.js';
import { appTelemetry, AppReports } from './local-api/app-reports.js';
import { AgentOutputs, type OutputOptions } from './outputs/index.js';
import type { DetectionsBus } from './outputs/bus.js';
import type { TlsClientOptions } from './tls/trust.js';

export interface AgentOptions {
  brokerUrl: string;
  /** For mqtts:// (and wss://): the CA the broker is verified against and the device's client certificate (agent/tls/trust.ts). */
  tls?: TlsClientOptions;
  id: string;
  token: string;
  controllerUrl?: string;
  inventory: Inventory;
  temperature: TemperatureSource;
  heartbeatSeconds: number;
  keepaliveSeconds: number;
  log: Logger;
  /** Where results wait for delivery (the outbox) and finished jobs are remembered. */
  stateDir: string;
  /** Resolves artifact refs in jobs and desired state to verified model files. */
  artifacts?: ArtifactSource;
  /** Frames for serving (default: the built-in scenes) and the folder profiling reads them from; `source` supersedes both. */
  frames?: FrameSource;
  framesDir?: string;
  /** The agent's --source: serving opens it at each model's input size, and profiles' end-to-end phase reads it. */
  source?: SourceSpec;
  /** Health check of a newly activated model. */
  healthWindowS?: number;
  /** onnxruntime intra-op threads for jobs and serving that do not name their own. */
  threads?: number;
  /** Mixed into the device class: makes one machine pose as distinct hardware (tests, heterogeneous containers). */
  classSalt?: string;
  /** First wait before asking again a broker that refused the token; it doubles up to 5 min. */
  refusedRetryMs?: number;
  /**
   * Asked when the broker refuses the token: a new one (the operator wrote a
   * rotated token to --token-file), tried at once, or undefined.
   */
  reloadToken?: () => string | undefined;
  /** The application's reports (the local API's POST /v1/app-report): they join telemetry, and decide health in hand-off. */
  appReports?: AppReports;
  /** --handoff: models go to this folder for the user's application instead of being served by the agent. */
  handoff?: Omit<HandoffOptions, 'reports' | 'log'>;
  /** Detections out: --detections, --publish-detections, --snapshot-every (agent/outputs). */
  outputs?: OutputOptions;
  /** The bus served frames' detections go on, where one was made before the agent (the local API streams it); default a new one. */
  detections?: DetectionsBus;
}

const REFUSED_RETRY_MAX_MS = 5 * 60_000;
/** CONNACK codes of MQTT 3.1.1 that refuse the credentials: bad username or password, not authorized. */
const REFUSED_CREDENTIALS = new Set([4, 5]);

function presence(state: Presence['state']): Presence {
  return { v: PROTOCOL_VERSION, ts: Date.now(), state };
}

/**
 * The on-device daemon's MQTT side: announces itself on every (re)connect,
 * keeps a retained presence with a last will, and sends heartbeats; runs
 * profiling jobs and serves the model the desired state names.
 */
export class Agent {
  readonly deviceClass: string;
  private readonly startedAt = Date.now();
  private heartbeatTimer?: NodeJS.Timeout;
  private refusedRetry?: NodeJS.Timeout;
  /** The pending reconnect after a lost connection (reconnect-backoff.ts), and how many failed in a row. */
  private reconnectTimer?: NodeJS.Timeout;
  private reconnectAttempt = 0;
  /** Set first thing in stop(): a refusal that arrives while it closes down must not start a new connection. */
  private stopping = false;
  /** The next wait before asking a refusing broker again; back to the first one on every connect. */
  private refusedWaitMs: number;
  private readonly firstRefusedWaitMs: number;
  private readonly outbox: Outbox;
  private readonly jobs: JobRunner;
  private readonly serving: Serving;
  private readonly outputs: AgentOutputs;

  private constructor(
    private readonly opts: AgentOptions,
    readonly client: MqttClient,
  ) {
    this.deviceClass = deviceClass(opts.inventory, opts.classSalt);
    this.firstRefusedWaitMs = opts.refusedRetryMs ?? 5000;
    this.refusedWaitMs = this.firstRefusedWaitMs;
    const lock = new MeasurementLock();
    const artifacts = opts.artifacts ?? noArtifactSource;
    // Like telemetry, worth their moment only: nothing is queued while the broker is away.
    this.outputs = new AgentOutputs(
      opts.outputs ?? {},
      {
        publishDetections: (record) => this.client.connected && this.publish('detections', record),
        publishSnapshot: (snapshot) => this.client.connected && this.publish('snapshot', snapshot),
      },
      opts.log,
      opts.detections,
    );
    this.outbox = new Outbox(opts.stateDir, (result) => this.publishConfirmed('results', result), opts.log.child({ component: 'outbox' }));
    const reports = opts.appReports ?? new AppReports();
    this.serving = new Serving({
      artifacts,
      frames: opts.frames ?? syntheticFrames(),
      ...(opts.source ? { source: { name: sourceName(opts.source), open: (size, onEvent) => openSource(opts.source!, { ...size, onEvent }) } } : {}),
      lock,
      publishReported: (reported) => this.publish('reported', reported),
      // A sample is worth its moment only: mqtt.js would queue every one while the broker is away, a day's
      // worth in memory, then deliver them all stale.
      publishTelemetry: (telemetry) => {
        if (this.client.connected) this.publish('telemetry', { ...telemetry, app: appTelemetry(reports.latest()) });
      },
      log: opts.log.child({ component: 'serving' }),
      healthWindowS: opts.healthWindowS,
      defaultThreads: opts.threads,
      providers: opts.inventory.executionProviders,
      stateDir: opts.stateDir,
      ...(opts.handoff ? { activation: new HandoffActivation({ ...opts.handoff, reports, log: opts.log.child({ component: 'handoff' }) }) } : {}),
      detections: this.outputs.bus,
    });
    this.jobs = new JobRunner({
      deviceId: opts.id,
      artifacts,
      lock,
      outbox: this.outbox,
      framesDir: opts.framesDir,
      source: opts.source,
      providers: opts.inventory.executionProviders,
      stateDir: opts.stateDir,
      defaultThreads: opts.threads,
      serving: () => this.serving.serving,
      log: opts.log.child({ component: 'jobs' }),
    });
  }

  static start(opts: AgentOptions): Agent {
    if (!DEVICE_ID_PATTERN.test(opts.id)) throw new Error(`invalid device id '${opts.id}'`);
    if (!validHeartbeatSeconds(opts.heartbeatSeconds)) {
      throw new Error(`heartbeat interval must be a whole number of seconds in [${HEARTBEAT_SECONDS.min}, ${HEARTBEAT_SECONDS.max}]`);
    }
    const client = mqtt.connect(opts.brokerUrl, {
      username: opts.id,
      password: opts.token,
      clientId: `edgefit-agent-${opts.id}`,
      keepalive: opts.keepaliveSeconds,
      // The agent reconnects itself, with a jittered exponential backoff (scheduleReconnect).
      reconnectPeriod: 0,
      connectTimeout: 10_000,
      will: { topic: deviceTopic(opts.id, 'presence'), payload: encodeFor('presence', presence('offline')), ...publishOptions('presence') },
      ...opts.tls,
    });
    const agent = new Agent(opts, client);
    agent.wire();
    return agent;
  }

  private wire(): void {
    const { log, id } = this.opts;
    this.client.on('connect', () => {
      this.refusedWaitMs = this.firstRefusedWaitMs;
      this.reconnectAttempt = 0;
      log.info({ device: id, broker: this.opts.brokerUrl, class: this.deviceClass }, 'agent connected');
      // Clean sessions: subscribe on every connect (the broker then re-delivers the retained desired state),
      // and say hello only once subscribed: the controller answers a hello with the jobs it is waiting on.
      const subscriptions = Object.fromEntries(DEVICE_SUBSCRIBES.map((c) => [deviceTopic(id, c), { qos: publishOptions(c).qos }]));
      this.client.subscribe(subscriptions, (err) => {
        if (err) log.error({ err: err.message }, 'cannot subscribe to jobs and desired state');
        // a connection lost before the SUBACK says hello on the next connect
        if (!this.client.connected) return;
        this.publish('presence', presence('online'));
        this.publish('hello', { v: PROTOCOL_VERSION, ts: Date.now(), inventory: this.opts.inventory, deviceClass: this.deviceClass });
        void this.sendHeartbeat();
        if (this.serving.current().generation > 0) this.publish('reported', this.serving.current());
        this.outbox.flush();
      });
    });
    // One handler per controller-to-device channel; each validates its own payload.
    const handlers: Record<ControllerChannel, (payload: Buffer) => void> = {
      jobs: (payload) => this.jobs.submit(payload),
      desired: (payload) => this.serving.submit(payload),
    };
    const byTopic = new Map(DEVICE_SUBSCRIBES.map((c) => [deviceTopic(id, c), handlers[c]]));
    this.client.on('message', (topic, payload) => {
      try {
        byTopic.get(topic)?.(payload);
      } catch (err) {
        log.error({ topic, err: (err as Error).message }, 'message handling failed');
      }
    });
    this.client.on('error', (err) => {
      // mqtt.js gives up after a refused CONNACK, but the device may be registered, or its token
      // restored, after the agent started: ask again, less and less often, and say why each time.
      if (REFUSED_CREDENTIALS.has((err as { code?: number }).code ?? -1) && !this.stopping) {
        const fresh = this.opts.reloadToken?.();
        if (fresh !== undefined) {
          log.info({ device: id }, 'the broker refused the token; the token file holds another: connecting with it');
          this.client.options.password = fresh;
          this.refusedWaitMs = this.firstRefusedWaitMs;
          this.reconnectAfterRefusal(0);
          return;
        }
        log.error({ device: id, err: err.message, retryInMs: this.refusedWaitMs }, "the broker refused this device's token (register it with 'edgefit devices add', or give the token it printed); asking again");
        this.reconnectAfterRefusal(this.refusedWaitMs);
        this.refusedWaitMs = Math.min(REFUSED_RETRY_MAX_MS, this.refusedWaitMs * 2);
        return;
      }
      log.error({ device: id, err: err.message }, 'agent mqtt error');
    });
    this.client.on('close', () => this.scheduleReconnect());
    this.scheduleHeartbeat();
  }

  /**
   * After a lost connection or a failed attempt: the next attempt after a
   * jittered, doubling wait (reconnect-backoff.ts). A refused token has its
   * own retry (the 'error' handler); mqtt.js keeps its queued QoS 1 messages.
   */
  /** One reconnect after a refused token, `ms` from now, replacing any reconnect already planned. */
  private reconnectAfterRefusal(ms: number): void {
    clearTimeout(this.refusedRetry);
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    this.refusedRetry = setTimeout(() => {
      this.refusedRetry = undefined;
      if (!this.stopping) this.client.reconnect();
    }, ms);
  }

  private scheduleReconnect(): void {
    if (this.stopping || this.reconnectTimer || this.refusedRetry) return;
    const retryInMs = reconnectDelayMs(this.reconnectAttempt++);
    if (this.reconnectAttempt === 1) this.opts.log.warn({ device: this.opts.id, retryInMs }, 'agent offline: broker unreachable, retrying');
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (this.stopping || this.client.connected) return;
      this.client.reconnect({ incomingStore: this.client.incomingStore, outgoingStore: this.client.outgoingStore });
    }, retryInMs);
  }

  /** Heartbeats at the device's own phase of each period (heartbeat-schedule.ts), never two at once. */
  private scheduleHeartbeat(): void {
    if (this.stopping) return;
    const periodMs = this.opts.heartbeatSeconds * 1000;
    this.heartbeatTimer = setTimeout(
      () => void this.sendHeartbeat().finally(() => this.scheduleHeartbeat()),
      nextHeartbeatDelayMs(Date.now(), periodMs, heartbeatPhaseMs(this.opts.id, periodMs)),
    );
  }

  /** Publishes one message on a channel, with that channel's QoS and retain flag; only the channel's own message type-checks. */
  publish<C extends DeviceChannel>(channel: C, message: MessageInput<C>): void {
    this.client.publish(deviceTopic(this.opts.id, channel), encodeFor(channel, message), publishOptions(channel), (err) => {
      if (err) this.opts.log.warn({ channel, err: err.message }, 'publish failed');
    });
  }

  /** Resolves on PUBACK; rejects when offline (the caller keeps the message) or on a publish error. */
  private publishConfirmed<C extends DeviceChannel>(channel: C, message: MessageInput<C>): Promise<void> {
    if (!this.client.connected) return Promise.reject(new Error('broker unreachable'));
    return new Promise((resolve, reject) => {
      this.client.publish(deviceTopic(this.opts.id, channel), encodeFor(channel, message), publishOptions(channel), (err) => (err ? reject(err) : resolve()));
    });
  }

  private async sendHeartbeat(): Promise<void> {
    if (!this.client.connected) return;
    try {
      const heartbeat = await readHeartbeat(this.opts.temperature, this.startedAt, this.opts.heartbeatSeconds);
      this.publish('heartbeat', heartbeat);
    } catch (err) {
      this.opts.log.warn({ err: (err as Error).message }, 'heartbeat failed');
    }
  }

  /** A clean stop says goodbye explicitly; the last will covers unclean ones. */
  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.refusedRetry);
    clearTimeout(this.reconnectTimer);
    clearTimeout(this.heartbeatTimer);
    await this.serving.close();
    await this.outputs.close();
    if (this.client.connected) {
      await this.client.publishAsync(deviceTopic(this.opts.id, 'presence'), encodeFor('presence', presence('offline')), publishOptions('presence')).catch(() => undefined);
    }
    await this.client.endAsync();
  }
}
