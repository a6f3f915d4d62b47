import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { Agent } from '../agent/agent.js';
import { ArtifactCache, DEFAULT_CACHE_CAP_BYTES } from '../agent/artifacts/cache.js';
import { ControllerKeyMismatch, pinControllerKey } from '../agent/artifacts/key-pin.js';
import { HEARTBEAT_SECONDS } from '../agent/heartbeat-period.js';
import { readInventory } from '../agent/inventory.js';
import { syntheticFrames } from '../agent/serve/frames.js';
import { needsFfmpeg, parseSourceSpec, sourceName, SourceSpecError, type SourceSpec } from '../agent/source/index.js';
import { findOnPath } from '../agent/source/ffmpeg.js';
import { createSensors } from '../agent/sensors/index.js';
import { unwritableReason } from '../agent/handoff/files.js';
import { AppReports } from '../agent/local-api/app-reports.js';
import { DEFAULT_LOCAL_PORT, startLocalApi, type LocalApi, type LocalApiDeps } from '../agent/local-api/server.js';
import { ed25519PublicKey } from '../protocol/artifacts.js';
import { resolveServerTrust, type TlsClientOptions } from '../agent/tls/trust.js';
import { readTlsFlags } from './agent-tls.js';
import { readTokenFile, tokenReloader, TokenFileError } from '../agent/token-file.js';
import { checkDetectionsPath } from '../agent/outputs/json-lines.js';
import { DetectionsBus, type OutputOptions } from '../agent/outputs/index.js';
import { UsageError, intFlag, numberFlag, parse, requireFlag } from './args.js';
import { createLogger, onShutdown } from './log.js';
import { EdgefitError } from '../protocol/errors.js';

export async function run(argv: string[]): Promise<void> {
  const { values } = parse(
    'agent',
    argv,
    {
      broker: { type: 'string' },
      id: { type: 'string' },
      token: { type: 'string' },
      'token-file': { type: 'string' },
      controller: { type: 'string' },
      heartbeat: { type: 'string' },
      keepalive: { type: 'string' },
      threads: { type: 'string' },
      'class-salt': { type: 'string' },
      state: { type: 'string' },
      'cache-cap-mb': { type: 'string' },
      'controller-key': { type: 'string' },
      ca: { type: 'string' },
      cert: { type: 'string' },
      key: { type: 'string' },
      frames: { type: 'string' },
      source: { type: 'string' },
      handoff: { type: 'string' },
      'on-deploy': { type: 'string' },
      'on-deploy-timeout': { type: 'string' },
      'local-port': { type: 'string' },
      'health-window': { type: 'string' },
      detections: { type: 'string' },
      'publish-detections': { type: 'string' },
      'snapshot-every': { type: 'string' },
      // applied by main before this module loaded (see onnxruntime-flag.ts); declared so the parser knows it
      onnxruntime: { type: 'string' },
    },
    false,
  );
  const broker = requireFlag('agent', 'broker', values.broker);
  if (!/^(mqtts?|wss?|tcp):\/\//.test(broker)) throw new UsageError(`agent: --broker must be a URL like mqtt://host:1883, got '${broker}'`);
  const id = requireFlag('agent', 'id', values.id);
  // The token may come from the environment or a file so it stays out of `ps` and shell history.
  const tokenFile = values['token-file'];
  if (tokenFile !== undefined && values.token !== undefined) throw new UsageError('agent: give --token or --token-file, not both');
  const token = tokenFile !== undefined ? tokenFromFile(tokenFile) : (values.token ?? process.env.EDGEFIT_TOKEN);
  if (!token) throw new UsageError('agent: --token, --token-file or EDGEFIT_TOKEN is required');
  const heartbeatSeconds = intFlag('agent', 'heartbeat', values.heartbeat, HEARTBEAT_SECONDS.fallback, HEARTBEAT_SECONDS.min, HEARTBEAT_SECONDS.max);
  const keepaliveSeconds = intFlag('agent', 'keepalive', values.keepalive, 15, 2, 600);
  const threads = values.threads === undefined ? undefined : intFlag('agent', 'threads', values.threads, 0, 1, 256);
  const classSalt = values['class-salt'];
  if (classSalt !== undefined && !/^[A-Za-z0-9_.-]{1,64}$/.test(classSalt)) throw new UsageError(`agent: --class-salt must be 1-64 letters, digits, '.', '_' or '-', got '${classSalt}'`);
  const stateDir = path.resolve(values.state ?? DEFAULT_STATE_DIR);
  const cacheCapBytes = intFlag('agent', 'cache-cap-mb', values['cache-cap-mb'], DEFAULT_CACHE_CAP_BYTES / MB, 1, 1024 * 1024) * MB;
  const controllerUrl = values.controller?.replace(/\/+$/, '');
  if (controllerUrl !== undefined && !/^https?:\/\/[^/]/.test(controllerUrl)) throw new UsageError(`agent: --controller must be a URL like http://host:8080, got '${controllerUrl}'`);
  if (values['controller-key'] !== undefined && controllerUrl === undefined) throw new UsageError('agent: --controller-key needs --controller (artifacts come from the controller)');
  const explicitKeyPem = values['controller-key'] === undefined ? undefined : readKeyFile(values['controller-key']);
  const tlsFlags = readTlsFlags(values, broker, controllerUrl);
  const source = sourceFlag(values.source, values.frames);
  // A source ffmpeg must decode cannot come good by retrying: say so now, not in a warning every 10 s.
  if (source && needsFfmpeg(source) && (findOnPath('ffmpeg') === null || findOnPath('ffprobe') === null)) {
    throw new EdgefitError('E_FFMPEG_MISSING', { reason: `agent --source ${sourceName(source)}: a ${source.kind} source is decoded by ffmpeg, and ffmpeg/ffprobe are not on PATH (Debian: apt install ffmpeg); JPEG/PNG files and folders work without it` });
  }
  const handoff = await handoffFlags(values);
  // On by default only where an application must report (hand-off); a serving agent opens it when asked (detections over SSE).
  const localPort = intFlag('agent', 'local-port', values['local-port'], handoff ? DEFAULT_LOCAL_PORT : 0, 0, 65535);
  const healthWindowS = values['health-window'] === undefined ? undefined : numberFlag('agent', 'health-window', values['health-window'], 3, 1, 3600);

  const outputs = outputFlags(values.detections, values['publish-detections'], values['snapshot-every']);

  // records on stdout: the logs move to stderr
  const log = createLogger('agent', { stderr: outputs.detectionsPath === '-' });
  // Before any byte goes out: a server the CA does not vouch for gets neither the token nor a result.
  // a refusal is E_SERVER_UNTRUSTED: main prints its one line and exits 1
  const tls: TlsClientOptions = await resolveServerTrust({ stateDir, endpoints: tlsFlags.endpoints, ...(tlsFlags.ca ? { explicitCa: tlsFlags.ca } : {}), ...(tlsFlags.client ? { client: tlsFlags.client } : {}), log: log.child({ component: 'tls' }) });
  const sensors = createSensors();
  const first = await sensors.snapshot();
  const inventory = await readInventory(first.board?.model ?? null);
  const artifacts = controllerUrl
    ? await openArtifactCache({ stateDir, controllerUrl, deviceId: id, token, explicitKeyPem, capBytes: cacheCapBytes, log, tls })
    : undefined;
  if (!artifacts) log.info('no --controller: artifacts (models) are disabled on this agent');
  const appReports = new AppReports();
  const detections = new DetectionsBus();
  // before the agent connects: a hand-off agent whose port is taken stops here with one line
  const localApi = await openLocalApi(localPort, { reports: appReports, detections }, handoff !== undefined, log);
  const agent = Agent.start({
    brokerUrl: broker,
    tls,
    id,
    token,
    controllerUrl,
    inventory,
    temperature: async () => (await sensors.snapshot()).temperatureC,
    heartbeatSeconds,
    keepaliveSeconds,
    log,
    stateDir,
    artifacts,
    frames: syntheticFrames(),
    ...(source ? { source } : {}),
    threads,
    classSalt,
    appReports,
    detections,
    ...(handoff ? { handoff } : {}),
    ...(healthWindowS === undefined ? {} : { healthWindowS }),
    outputs,
    // a rotated token written to the file is taken at the next refusal, for MQTT and for downloads alike
    ...(tokenFile !== undefined ? { reloadToken: tokenReloader(tokenFile, token, log, (t) => artifacts?.setToken(t)) } : {}),
  });
  onShutdown(log, async () => {
    await localApi?.close();
    await agent.stop();
    await sensors.close();
  });
}

/**
 * --source SPEC, or --frames DIR as the folder source it always was (paths
 * made absolute: the profiling process may run elsewhere); both is a usage
 * mistake, and a spec that names nothing usable is one line (exit 2).
 */
function sourceFlag(source: string | undefined, frames: string | undefined): SourceSpec | undefined {
  if (source !== undefined && frames !== undefined) throw new UsageError('agent: give --source or --frames, not both (--source DIR is what --frames DIR was)');
  if (frames !== undefined) {
    const spec = sourceSpec(path.resolve(frames), 'frames');
    if (spec.kind !== 'folder') throw new UsageError(`agent: --frames ${frames}: not a folder (--source takes files, devices and URLs)`);
    return spec;
  }
  if (source === undefined) return undefined;
  return sourceSpec(/^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//.test(source) || source.startsWith('/dev/') ? source : path.resolve(source), 'source');
}

function sourceSpec(text: string, flag = 'source'): SourceSpec {
  try {
    return parseSourceSpec(text);
  } catch (err) {
    // the parser's line starts 'source X: ...'
    if (err instanceof SourceSpecError) throw new UsageError(`agent: --${flag}${err.message.replace(/^source/, '')}`);
    throw err;
  }
}

/** --handoff DIR with its hook: DIR must be writable now, and the hook flags mean nothing without it (exit 2, one line). */
async function handoffFlags(values: { handoff?: string; 'on-deploy'?: string; 'on-deploy-timeout'?: string }) {
  if (values.handoff === undefined) {
    if (values['on-deploy'] !== undefined) throw new UsageError('agent: --on-deploy needs --handoff DIR (it runs after a model is handed over there)');
    if (values['on-deploy-timeout'] !== undefined) throw new UsageError('agent: --on-deploy-timeout needs --handoff DIR and --on-deploy');
    return undefined;
  }
  if (values['on-deploy-timeout'] !== undefined && values['on-deploy'] === undefined) throw new UsageError('agent: --on-deploy-timeout needs --on-deploy');
  if (values['on-deploy'] !== undefined && values['on-deploy'].trim() === '') throw new UsageError('agent: --on-deploy is empty');
  const dir = path.resolve(values.handoff);
  const reason = await unwritableReason(dir);
  if (reason) throw new UsageError(`agent: --handoff ${values.handoff}: cannot write models there: ${reason}`);
  const onDeployTimeoutS = numberFlag('agent', 'on-deploy-timeout', values['on-deploy-timeout'], 60, 1, 3600);
  return { dir, onDeployTimeoutS, ...(values['on-deploy'] ? { onDeploy: values['on-deploy'] } : {}) };
}

/**
 * The local API (127.0.0.1:--local-port; 0: off). A port in use stops a
 * hand-off agent, whose application could not report and whose every
 * deployment would roll back; a serving agent goes on without it.
 */
async function openLocalApi(port: number, deps: Omit<LocalApiDeps, 'log'>, handoff: boolean, log: Logger): Promise<LocalApi | null> {
  if (port === 0) {
    if (handoff) log.warn('--local-port 0: the application cannot report, so every hand-off will fail its health check');
    return null;
  }
  try {
    return await startLocalApi(port, { ...deps, log: log.child({ component: 'local-api' }) });
  } catch (err) {
    const line = `cannot listen on 127.0.0.1:${port} for applications (--local-port N picks another, 0 turns it off): ${(err as Error).message}`;
    if (handoff) throw new EdgefitError('E_LOCAL_API', { reason: line });
    log.warn(line);
    return null;
  }
}

/** --detections PATH|-, --publish-detections HZ (0 < HZ ≤ 10), --snapshot-every S (0 = off, default 5). */
function outputFlags(detections: string | undefined, publishHz: string | undefined, snapshotEvery: string | undefined): OutputOptions {
  if (detections !== undefined) {
    if (detections === '') throw new UsageError("agent: --detections needs a file path, or '-' for stdout");
    try {
      checkDetectionsPath(detections);
    } catch (err) {
      throw new UsageError(`agent: --detections ${(err as Error).message}`);
    }
  }
  let hz: number | undefined;
  if (publishHz !== undefined) {
    hz = numberFlag('agent', 'publish-detections', publishHz, 0, 0, 10);
    if (hz <= 0) throw new UsageError(`agent: --publish-detections must be a rate in (0, 10] messages a second, got '${publishHz}'`);
  }
  const snapshotEveryS = numberFlag('agent', 'snapshot-every', snapshotEvery, 5, 0, 3600);
  if (snapshotEveryS > 0 && snapshotEveryS < 1) throw new UsageError(`agent: --snapshot-every must be 0 (off) or 1 to 3600 seconds, got '${snapshotEvery}'`);
  return { ...(detections !== undefined ? { detectionsPath: detections } : {}), ...(hz !== undefined ? { publishHz: hz } : {}), snapshotEveryS };
}

/** A token file that cannot be read, or holds no token, stops the agent with its one line (exit 1). */
function tokenFromFile(file: string): string {
  try {
    return readTokenFile(file);
  } catch (err) {
    if (err instanceof TokenFileError) throw new Error(`agent: --token-file: ${err.message}`);
    throw err;
  }
}

const MB = 1024 * 1024;
const DEFAULT_STATE_DIR = './.edgefit-agent';

/** The pinned key, parsed now: a file that is not an ed25519 public key would otherwise be retried forever as if the controller were late. */
function readKeyFile(file: string): string {
  let pem: string;
  try {
    pem = readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`agent: cannot read --controller-key ${file}: ${(err as Error).message}`);
  }
  try {
    ed25519PublicKey(pem);
  } catch (err) {
    throw new UsageError(`agent: --controller-key ${file}: ${(err as Error).message}`);
  }
  return pem;
}

/**
 * Pins the controller's artifact key (waiting for the controller while nothing
 * is pinned yet) and opens the verified model cache under the state dir. A
 * changed controller key is fatal: the agent stops rather than trust it.
 */
async function openArtifactCache(o: { stateDir: string; controllerUrl: string; deviceId: string; token: string; explicitKeyPem?: string; capBytes: number; log: Logger; tls: TlsClientOptions }): Promise<ArtifactCache> {
  const log = o.log.child({ component: 'artifacts' });
  let delayMs = 1000;
  let key: Awaited<ReturnType<typeof pinControllerKey>>;
  for (;;) {
    try {
      key = await pinControllerKey({ ...o, log });
      break;
    } catch (err) {
      if (err instanceof ControllerKeyMismatch) {
        log.fatal({ pinned: err.pinned, presented: err.presented }, err.message);
        throw err;
      }
      log.warn({ err: (err as Error).message, retryInMs: delayMs }, 'cannot enroll the controller artifact key yet');
      await new Promise((r) => setTimeout(r, delayMs));
      delayMs = Math.min(delayMs * 2, 30_000);
    }
  }
  // A cache folder that cannot be opened will not heal by waiting for the controller: say so and stop.
  const dir = path.join(o.stateDir, 'artifacts');
  let cache: ArtifactCache;
  try {
    cache = new ArtifactCache({ dir, capBytes: o.capBytes, controllerUrl: o.controllerUrl, deviceId: o.deviceId, token: o.token, publicKeyPem: key.publicKeyPem, tls: o.tls, log });
  } catch (err) {
    throw new EdgefitError('E_ARTIFACT_CACHE', { reason: `cannot open the artifact cache ${dir}: ${(err as Error).message}` });
  }
  log.info({ fingerprint: key.fingerprint, cached: cache.list().length, usedBytes: cache.usedBytes, capBytes: cache.capBytes }, 'artifact cache ready');
  return cache;
}

