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
import { FleetLink, type DesiredRequest, type JobRequest } from './fleet-link.js';
import { buildApp } from './http/app.js';
import { DesiredStore, LiveStateStore, ProfileStore } from './profiles.js';
import type { Desired, Job } from '../protocol/messages.js';
import { Registry } from './registry.js';
import { loadOrCreateSecret } from './secrets.js';
import { clearEndpoint, writeEndpoint } from './endpoint.js';

export interface ControllerOptions {
  dataDir: string;
  /** External broker URL; without it the controller embeds one. */
  brokerUrl?: string;
  /** Secret the controller uses on an external broker (see `edgefit broker-config`). */
  mqttPort: number;
  httpPort: number;
  host: string;
  log: Logger;
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
  httpUrl: string;
  brokerUrl: string;
  adminToken: string;
  close(): Promise<void>;
}

export async function startController(opts: ControllerOptions): Promise<Controller> {
  const { log } = opts;
  const dataDir = path.resolve(opts.dataDir);
  const db = openDb(dataDir);
  const registry = new Registry(db);
  registry.markAllOffline();
  const controllerSecret = loadOrCreateSecret(dataDir, 'controller.secret');
  const adminToken = loadOrCreateSecret(dataDir, 'admin.token');
  const signingKey = loadOrCreateSigningKey(dataDir);
  const artifacts = new ArtifactStore(db, dataDir, signingKey);

  let broker: EmbeddedBroker | undefined;
  let brokerUrl = opts.brokerUrl;
  if (!brokerUrl) {
    broker = await startEmbeddedBroker({
      port: opts.mqttPort,
      host: opts.host,
      controllerSecret,
      authenticateDevice: (id, token) => registry.authenticate(id, token),
      log: log.child({ component: 'broker' }),
    });
    brokerUrl = `mqtt://127.0.0.1:${broker.port}`;
  }
  const profiles = new ProfileStore(db);
  const live = new LiveStateStore();
  const desired = new DesiredStore(db);
  const catalog = new Catalog(db, artifacts);
  const rolloutStore = new RolloutStore(db);
  const checks = new OnDeviceCheck({ catalog, thresholdOf: (jobId) => rolloutStore.specOfJob(jobId)?.check?.threshold, log: log.child({ component: 'check' }) });
  const link = await FleetLink.connect({ brokerUrl, secret: controllerSecret, registry, profiles, desired, live, log: log.child({ component: 'fleet' }), judgeCheck: (r) => checks.judge(r) });

  const ladders = new LadderJobs(catalog, path.join(dataDir, 'ladder-work'), log.child({ component: 'ladder' }));
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
    link,
    log: log.child({ component: 'rollout' }),
  });
  rollouts.start();
  const silenceSweep = setInterval(() => {
    for (const d of registry.markSilentOffline()) log.warn({ device: d.id, lastSeen: d.lastSeen }, 'device silent for three heartbeats: marked offline');
  }, 5000);
  silenceSweep.unref();

  const app = buildApp({ registry, artifacts, signingKey, profiles, live, adminToken, log, fleet: { catalog, ladders, rollouts, rolloutStore } });
  await app.listen({ port: opts.httpPort, host: opts.host });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : opts.httpPort;
  // A wildcard listen address is reached on loopback from this machine; IPv6 hosts go in brackets.
  const loopback = opts.host === '0.0.0.0' ? '127.0.0.1' : opts.host === '::' ? '::1' : opts.host;
  const reachableHost = isIPv6(loopback) ? `[${loopback}]` : loopback;
  const httpUrl = `http://${reachableHost}:${port}`;
  writeEndpoint(dataDir, httpUrl);
  log.info({ http: httpUrl, broker: brokerUrl, data: dataDir, artifactKey: signingKey.fingerprint }, 'controller ready');

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
    httpUrl,
    brokerUrl: broker ? `mqtt://${reachableHost}:${broker.port}` : brokerUrl,
    adminToken,
    async close() {
      clearEndpoint(dataDir, httpUrl);
      clearInterval(silenceSweep);
      await closeInSteps(log, [
        ['rollouts', () => rollouts.close()],
        ['ladders', () => ladders.close()],
        ['http', () => app.close()],
        ['fleet link', () => link.close()],
        ['broker', () => broker?.close()],
        ['database', () => db.close()],
      ]);
    },
  };
}
