import { isIPv6 } from 'node:net';
import { closeInSteps } from './close-steps.js';
import path from 'node:path';
import type { Logger } from 'pino';
import { ArtifactStore } from './artifacts/store.js';
import { loadOrCreateSigningKey, type SigningKey } from './artifacts/signing.js';
import { startEmbeddedBroker, type EmbeddedBroker } from './broker.js';
import { Catalog } from './catalog/catalog.js';
import { OnDeviceCheck } from './check/checker.js';
import { LadderJobs } from './catalog/ladder-jobs.js';
import { openDb } from './db.js';
import { RolloutEngine } from './rollout/engine.js';
import { RolloutStore } from './rollout/store.js';
import { BrokerUnavailableError, FleetLink, type DesiredRequest, type JobRequest } from './fleet-link.js';
import { DeviceLifecycle } from './device-lifecycle.js';
import { DynsecSync } from './dynsec/sync.js';
import { buildApp } from './http/app.js';
import { DesiredStore, LiveStateStore, ProfileStore } from './profiles.js';
import { OpProfileStore } from './op-profiles.js';
import { LatencyPredictions } from './latency-predictions.js';
import type { Desired, Job } from '../protocol/messages.js';
import { CONTROLLER_USER, Registry } from './registry.js';
import { loadMetricsToken, loadOrCreateSecret } from './secrets.js';
import { ControllerMetrics } from './metrics/metrics.js';
import { clearEndpoint, clearStarting, markStarting, writeEndpoint } from './endpoint.js';
import { rootCertificates } from 'node:tls';
import { CA_FILE, controllerSans, issueDeviceCertificate, loadOrCreateServerTls, userServerTls, type ServerTls } from './tls/store.js';

export interface ControllerOptions {
  dataDir: string;
  /** External broker URL; without it the controller embeds one. */
  brokerUrl?: string;
  /**
   * The external broker is Mosquitto with its dynamic-security plugin
   * (`broker-config --dynsec`): devices added, given new tokens and removed
   * are provisioned there at once, and the plugin is reconciled with the
   * registry on every (re)connect. Without it an external broker reads the
   * password file `broker-config` writes.
   */
  brokerDynsec?: boolean;
  /** Secret the controller uses on an external broker (see `edgefit broker-config`). */
  mqttPort: number;
  httpPort: number;
  host: string;
  log: Logger;
  /**
   * https and mqtts. Without `files`, the controller's own CA and server
   * certificate in the data folder (`sans`: names beyond its own); with them,
   * the operator's. `clientCerts`: the mqtts listener refuses devices without
   * a certificate from that CA. The embedded broker keeps a plain listener on
   * 127.0.0.1:`plainMqttPort` (default 1883) for this machine's own clients.
   */
  tls?: ControllerTlsOptions;
}

export interface ControllerTlsOptions {
  sans?: string[];
  files?: { cert: string; key: string; ca?: string };
  clientCerts?: boolean;
  plainMqttPort?: number;
}

export interface Controller {
  registry: Registry;
  /** Content-addressed, signed model store: `put` a candidate, hand its ref to devices. */
  artifacts: ArtifactStore;
  signingKey: SigningKey;
  /** Profiling results by job, and each device's latest telemetry and reported state. */
  profiles: ProfileStore;
  live: LiveStateStore;
  /** Sends a profiling job to a device (MQTT QoS 1). */
  sendJob(deviceId: string, job: JobRequest): Promise<Job>;
  /** Sets the model a device should serve (retained); the generation increments unless given. */
  setDesired(deviceId: string, desired: DesiredRequest): Promise<Desired>;
  /** Base models and their candidate ladders; ladder builds run in child processes. */
  catalog: Catalog;
  ladders: LadderJobs;
  /** Staged rollouts: planning, per-device choice, deployment, rollback. */
  rollouts: RolloutEngine;
  rolloutStore: RolloutStore;
  /** Adds, rotates and removes devices on the broker path in use. */
  lifecycle: DeviceLifecycle;
  httpUrl: string;
  brokerUrl: string;
  /** Where a client on this machine reaches the broker: the plain loopback listener under TLS, else brokerUrl. */
  localBrokerUrl: string;
  /** With TLS: the CA agents verify the controller against (the data folder's ca.pem, or --tls-ca). */
  caFile?: string;
  adminToken: string;
  /** The read-only token that scrapes GET /metrics (metrics.token, or $EDGEFIT_METRICS_TOKEN). */
  metricsToken: string;
  close(): Promise<void>;
}

export async function startController(opts: ControllerOptions): Promise<Controller> {
  const dataDir = path.resolve(opts.dataDir);
  // Before anything slow: a CLI started meanwhile waits for controller.url instead of failing (see endpoint.ts).
  markStarting(dataDir);
  try {
    return await start(opts, dataDir);
  } finally {
    clearStarting(dataDir);
  }
}

async function start(opts: ControllerOptions, dataDir: string): Promise<Controller> {
  const { log } = opts;
  const db = openDb(dataDir);
  const registry = new Registry(db);
  registry.markAllOffline();
  const controllerSecret = loadOrCreateSecret(dataDir, 'controller.secret');
  const adminToken = loadOrCreateSecret(dataDir, 'admin.token');
  const metricsToken = loadMetricsToken(dataDir, adminToken);
  const metrics = new ControllerMetrics({ db, log: log.child({ component: 'metrics' }) });
  const signingKey = loadOrCreateSigningKey(dataDir);
  const artifacts = new ArtifactStore(db, dataDir, signingKey);

  const tls = opts.tls && (await serverTls(dataDir, opts.host, opts.tls, log));

  let broker: EmbeddedBroker | undefined;
  let brokerUrl = opts.brokerUrl;
  if (!brokerUrl) {
    broker = await startEmbeddedBroker({
      // Under TLS the plain listener stays on loopback only: the controller's own link and this machine's agent use it.
      port: tls ? (opts.tls?.plainMqttPort ?? 1883) : opts.mqttPort,
      host: tls ? '127.0.0.1' : opts.host,
      ...(tls ? { tls: { port: opts.mqttPort, host: opts.host, certPem: tls.certPem, keyPem: tls.keyPem, caPem: tls.caPem, requireClientCert: opts.tls?.clientCerts ?? false } } : {}),
      controllerSecret,
      authenticateDevice: (id, token) => registry.authenticate(id, token),
      log: log.child({ component: 'broker' }),
      onRefused: (reason) => metrics.counters.rejected(reason),
    });
    brokerUrl = `mqtt://127.0.0.1:${broker.port}`;
  }
  const profiles = new ProfileStore(db);
  // operator profiles (issue #21) under the class the device reports now: a profile is measured on the hardware it has
  const opProfiles = new OpProfileStore(db);
  profiles.onResult((p) => opProfiles.recordFrom(p, registry.get(p.deviceId)?.deviceClass));
  const latencyPredictions = new LatencyPredictions(db, opProfiles, (sha) => artifacts.pathOf(sha));
  const live = new LiveStateStore();
  const desired = new DesiredStore(db);
  const catalog = new Catalog(db, artifacts);
  const rolloutStore = new RolloutStore(db);
  const checks = new OnDeviceCheck({ catalog, thresholdOf: (jobId) => rolloutStore.specOfJob(jobId)?.check?.threshold, log: log.child({ component: 'check' }) });
  const linkTls = opts.brokerUrl && tls ? await externalBrokerTls(dataDir, tls, log) : undefined;
  const link = await FleetLink.connect({ brokerUrl, ...(linkTls ? { tls: linkTls } : {}), secret: controllerSecret, registry, profiles, desired, live, log: log.child({ component: 'fleet' }), judgeCheck: (r) => checks.judge(r), counters: metrics.counters });
  let dynsec: DynsecSync | undefined;
  if (opts.brokerUrl && opts.brokerDynsec) {
    try {
      dynsec = await DynsecSync.start({ brokerUrl, ...(linkTls ? { tls: linkTls } : {}), secret: controllerSecret, registry, log: log.child({ component: 'dynsec' }) });
    } catch (err) {
      await link.close();
      db.close();
      throw err;
    }
  }
  const embedded = broker;
  const lifecycle = new DeviceLifecycle({
    registry,
    mode: embedded ? 'embedded' : dynsec ? 'dynsec' : 'files',
    ...(dynsec ? { dynsec } : {}),
    ...(embedded ? { disconnect: (id: string) => embedded.disconnectDevice(id) } : {}),
    clearRetained: async (topic) => {
      if (!link.client.connected) throw new BrokerUnavailableError(`the broker ${brokerUrl} is unreachable`);
      await link.client.publishAsync(topic, Buffer.alloc(0), { qos: 1, retain: true });
    },
    forget: (id) => {
      live.outputs.forget(id);
      desired.forget(id);
    },
    log: log.child({ component: 'devices' }),
  });

  const ladders = new LadderJobs(catalog, path.join(dataDir, 'ladder-work'), log.child({ component: 'ladder' }), (deviceClass, threads) => latencyPredictions.predictor(deviceClass, 'cpu', threads));
  // One pair of closures for the rollout engine and for callers of the Controller object.
  const sendJob: Controller['sendJob'] = (deviceId, job) => link.sendJob(deviceId, job);
  const setDesired: Controller['setDesired'] = (deviceId, d) => link.setDesired(deviceId, d);
  const rollouts = new RolloutEngine({
    store: rolloutStore,
    catalog,
    registry,
    live,
    desired,
    profiles,
    sendJob,
    setDesired,
    checkFrames: (modelId) => checks.request(modelId),
    latency: latencyPredictions,
    link,
    log: log.child({ component: 'rollout' }),
  });
  rollouts.start();
  const silenceSweep = setInterval(() => {
    for (const d of registry.markSilentOffline()) log.warn({ device: d.id, lastSeen: d.lastSeen }, 'device silent for three heartbeats: marked offline');
  }, 5000);
  silenceSweep.unref();

  const app = buildApp({ registry, artifacts, signingKey, profiles, opProfiles, latencyPredictions, live, adminToken, log, lifecycle, fleet: { catalog, ladders, rollouts, rolloutStore }, metrics: { metrics, token: metricsToken }, ...(tls ? { https: { certPem: tls.certPem, keyPem: tls.keyPem } } : {}) });
  await app.listen({ port: opts.httpPort, host: opts.host });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : opts.httpPort;
  // A wildcard listen address is reached on loopback from this machine; IPv6 hosts go in brackets.
  const loopback = opts.host === '0.0.0.0' ? '127.0.0.1' : opts.host === '::' ? '::1' : opts.host;
  const reachableHost = isIPv6(loopback) ? `[${loopback}]` : loopback;
  const httpUrl = `${tls ? 'https' : 'http'}://${reachableHost}:${port}`;
  writeEndpoint(dataDir, httpUrl);
  const publicBrokerUrl = broker ? (broker.tlsPort !== undefined ? `mqtts://${reachableHost}:${broker.tlsPort}` : `mqtt://${reachableHost}:${broker.port}`) : brokerUrl;
  const caFile = tls ? (opts.tls?.files ? opts.tls.files.ca : path.join(dataDir, CA_FILE)) : undefined;
  log.info({ http: httpUrl, broker: publicBrokerUrl, data: dataDir, artifactKey: signingKey.fingerprint, ...(tls ? { tlsCertificate: tls.fingerprint, ca: tls.caFingerprint } : {}) }, 'controller ready');

  return {
    registry,
    artifacts,
    signingKey,
    profiles,
    live,
    sendJob,
    setDesired,
    catalog,
    ladders,
    rollouts,
    rolloutStore,
    lifecycle,
    httpUrl,
    brokerUrl: publicBrokerUrl,
    localBrokerUrl: broker && tls ? `mqtt://127.0.0.1:${broker.port}` : publicBrokerUrl,
    ...(caFile ? { caFile } : {}),
    adminToken,
    metricsToken,
    async close() {
      clearEndpoint(dataDir, httpUrl);
      clearInterval(silenceSweep);
      await closeInSteps(log, [
        ['rollouts', () => rollouts.close()],
        ['ladders', () => ladders.close()],
        ['http', () => app.close()],
        ['dynamic security', () => dynsec?.close()],
        ['fleet link', () => link.close()],
        ['broker', () => broker?.close()],
        ['database', () => db.close()],
      ]);
    },
  };
}

/** The server's certificate and key: the operator's files, or the controller's own CA and certificate (made or renewed now). */
async function serverTls(dataDir: string, host: string, o: ControllerTlsOptions, log: Logger): Promise<ServerTls> {
  const tls = o.files ? userServerTls(o.files) : await loadOrCreateServerTls(dataDir, { sans: controllerSans(host, o.sans ?? []) });
  for (const change of tls.changes) log.info({ certificate: tls.fingerprint, ca: tls.caFingerprint }, `tls: ${change}`);
  return tls;
}

/**
 * How the controller's link verifies an external mqtts broker: the public roots
 * and the controller's CA (broker-config hands Mosquitto the controller's
 * certificate); it presents a client certificate of its own CA where it has one,
 * for a broker that requires them.
 */
async function externalBrokerTls(dataDir: string, tls: ServerTls, log: Logger): Promise<{ ca: string[]; cert?: string; key?: string }> {
  const ca = [...rootCertificates, tls.caPem];
  if (!tls.caKeyPem) {
    log.info('no CA key of our own: the controller presents no client certificate to the broker');
    return { ca };
  }
  const own = await issueDeviceCertificate(dataDir, CONTROLLER_USER);
  return { ca, cert: own.certPem, key: own.keyPem };
}
