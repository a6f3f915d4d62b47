import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { HEARTBEAT_SECONDS } from '../agent/heartbeat-period.js';
import { PUBLIC_KEY_FILE } from '../controller/artifacts/signing.js';
import { startController, type Controller } from '../controller/controller.js';
import { writeModel } from '../compress/onnx/write.js';
import { buildYolov8 } from '../compress/yolo/builder.js';
import type { Logger } from 'pino';
import type { Registry } from '../controller/registry.js';
import { intFlag, parse } from './args.js';
import { ModelFormatError, readModelFileBytes } from '../compress/onnx/read.js';
import { controllerFlags, controllerOptions } from './controller.js';
import { createLogger, onShutdown } from './log.js';
import { EdgefitError } from '../protocol/errors.js';

/** This machine's device id: 'local-' and the hostname, cut to what topics allow. */
export function localDeviceId(hostname = os.hostname()): string {
  const clean = hostname.toLowerCase().replace(/[^a-z0-9_.-]+/g, '-').replace(/^[^a-z0-9]+/, '');
  return `local-${clean || 'host'}`.slice(0, 64);
}

/** The local agent's token, kept in the data dir so restarts reuse it. */
function localToken(registry: Registry, dataDir: string, id: string): string {
  const file = path.join(dataDir, 'local-agent.token');
  let token: string | undefined;
  try {
    token = readFileSync(file, 'utf8').trim();
  } catch {
    token = undefined;
  }
  if (token && registry.authenticate(id, token)) return token;
  token = registry.get(id) ? registry.rotateToken(id) : registry.add(id, { role: 'local' });
  writeFileSync(file, token + '\n', { mode: 0o600 });
  return token;
}

export async function run(argv: string[]): Promise<void> {
  const { values } = parse('up', argv, { ...controllerFlags, 'heartbeat': { type: 'string' }, model: { type: 'string' } }, false);
  // The local agent would reject a bad --heartbeat on every restart, forever: reject it here, once.
  if (values.heartbeat !== undefined) intFlag('up', 'heartbeat', values.heartbeat, HEARTBEAT_SECONDS.fallback, HEARTBEAT_SECONDS.min, HEARTBEAT_SECONDS.max);
  const modelBytes = values.model ? readModelOrFail(values.model) : undefined;
  const options = controllerOptions('up', values);
  const log = createLogger('edgefit');
  const controller = await startController({ ...options, log });
  const id = localDeviceId();
  const dataDir = path.resolve(options.dataDir);
  const token = localToken(controller.registry, dataDir, id);

  const main = fileURLToPath(new URL('./main.js', import.meta.url));
  let agent: ChildProcess | undefined;
  let stopping = false;
  const startAgent = () => {
    // The local agent keeps its state in the data dir and pins the controller's key from the file, not the network.
    // Under --tls it takes the broker's plain loopback listener and checks the API against the data dir's CA.
    const agentArgs = ['--broker', controller.localBrokerUrl, '--id', id, '--controller', controller.httpUrl, '--state', path.join(dataDir, 'agent'), '--controller-key', path.join(dataDir, PUBLIC_KEY_FILE), ...(controller.caFile ? ['--ca', controller.caFile] : [])];
    agent = spawn(process.execPath, [main, 'agent', ...agentArgs, ...(values.heartbeat ? ['--heartbeat', values.heartbeat] : [])], {
      env: { ...process.env, EDGEFIT_TOKEN: token },
      stdio: 'inherit',
    });
    agent.on('exit', (code, signal) => {
      if (stopping) return;
      // The local agent is part of `up`: bring it back rather than run headless.
      log.warn({ code, signal }, 'local agent exited; restarting in 2 s');
      setTimeout(startAgent, 2000).unref();
    });
  };
  startAgent();

  process.stdout.write(`\nedgefit is up\n  dashboard  ${controller.httpUrl}/#token=${controller.adminToken}\n  API        ${controller.httpUrl}/api/devices  (Authorization: Bearer <token in ${path.join(options.dataDir, 'admin.token')}>)\n  MQTT       ${controller.brokerUrl}${controller.localBrokerUrl !== controller.brokerUrl ? `  (this machine: ${controller.localBrokerUrl})` : ''}\n${controller.caFile ? `  CA         ${controller.caFile}  (agents: --ca FILE)\n` : ''}  device     ${id}\n\n`);
  void fitLocalDevice(controller, id, modelBytes, values.model ? path.basename(values.model).replace(/\.onnx$/i, '').replace(/[^A-Za-z0-9_.+-]/g, '-') : SYNTHETIC_NAME, log);
  onShutdown(log, async () => {
    stopping = true;
    if (agent && agent.exitCode === null) {
      const exited = new Promise((resolve) => agent!.once('exit', resolve));
      agent.kill('SIGTERM');
      await exited;
    }
    await controller.close();
  });
}

const SYNTHETIC_NAME = 'yolov8n-synthetic';

/** The --model bytes, known to be ONNX: a broken file must stop `up`, not leave it running with nothing to roll out. */
function readModelOrFail(file: string): Buffer {
  try {
    return readModelFileBytes(file).bytes;
  } catch (err) {
    if (err instanceof ModelFormatError) throw new ModelFormatError(`cannot use --model (${err.message})`);
    throw err;
  }
}

/**
 * The main job out of the box: a ladder from the given model (default a
 * builder-made yolov8n with synthetic weights, good only for latency), rolled
 * out to the local agent. Small on purpose (320/256/192/160 × fp32/int8) so a
 * two-core machine shows a profile, a choice and live FPS within minutes.
 * A restart reuses the model, its ladder and its rollout.
 */
async function fitLocalDevice(controller: Controller, deviceId: string, bytes: Uint8Array | undefined, name: string, log: Logger): Promise<void> {
  try {
    const synthetic = bytes === undefined;
    const model = await controller.catalog.addModel(bytes ?? writeModel(buildYolov8({ scale: 'n', imgsz: 320 })), name);
    if (synthetic) process.stdout.write(`model ${model.id} '${name}': builder-made yolov8n, SYNTHETIC weights (latency only, no accuracy)\n`);
    if (controller.catalog.candidates(model.id).length === 0) {
      const running = controller.catalog.jobs(model.id).find((j) => j.state === 'queued' || j.state === 'running');
      const job = running ?? controller.ladders.start(model.id, { ladder: 'quick', ...(synthetic ? {} : { sizes: [320, 256, 192, 160] }) });
      process.stdout.write(`building the candidate ladder (job ${job.id})...\n`);
      const done = await controller.ladders.wait(job.id);
      if (done.state === 'failed') throw new EdgefitError('E_LADDER', { reason: `ladder failed: ${done.error}` });
      process.stdout.write(`ladder ready: ${done.message}\n`);
    }
    if (controller.rolloutStore.list().some((r) => r.spec.model === model.id)) return;
    for (let i = 0; i < 600 && !controller.registry.get(deviceId)?.online; i++) await new Promise((r) => setTimeout(r, 500));
    const rollout = controller.rollouts.create({ name: 'local', model: model.id, targets: { devices: [deviceId] }, slo: { minFps: 10 }, profile: { durationS: 3, warmup: 5 } });
    process.stdout.write(`rollout ${rollout.id} started: 'edgefit rollout status ${rollout.id}' shows the profiles, the choice and its explanation\n`);
  } catch (err) {
    log.error({ err: (err as Error).message }, 'could not roll out the local model');
  }
}
