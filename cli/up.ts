import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PUBLIC_KEY_FILE } from '../controller/artifacts/signing.js';
import { startController } from '../controller/controller.js';
import type { Registry } from '../controller/registry.js';
import { parse } from './args.js';
import { controllerFlags, controllerOptions } from './controller.js';
import { createLogger, onShutdown } from './log.js';

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
  const { values } = parse('up', argv, { ...controllerFlags, 'heartbeat': { type: 'string' } }, false);
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
    const agentArgs = ['--broker', controller.brokerUrl, '--id', id, '--controller', controller.httpUrl, '--state', path.join(dataDir, 'agent'), '--controller-key', path.join(dataDir, PUBLIC_KEY_FILE)];
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

  process.stdout.write(`\nedgefit is up\n  dashboard  ${controller.httpUrl}/#token=${controller.adminToken}\n  API        ${controller.httpUrl}/api/devices  (Authorization: Bearer <token in ${path.join(options.dataDir, 'admin.token')}>)\n  MQTT       ${controller.brokerUrl}\n  device     ${id}\n\n`);
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
