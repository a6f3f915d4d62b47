// The controller under test, in a process of its own (forked by main.ts) so
// that /proc/<pid> measures it alone: startController as `edgefit controller`
// runs it, logging at info to a file, plus what the benchmark reads from
// inside: event-loop delay (perf_hooks.monitorEventLoopDelay), SQLite rows
// written, devices online, a rollout's device states, and how long close()
// takes with the whole fleet still connected.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import pino from 'pino';
import { startController, type Controller } from '../../controller/controller.js';
import type { ChildReply, ToChild } from './child-protocol.js';

// an empty brokerUrl embeds the broker, on mqttPort (0: any free port; a restart gives the port it had)
const [dataDir, logFile, brokerUrl = '', mqttPort = '0'] = process.argv.slice(2);
const send = (m: ChildReply) => process.send!(m);
const lag = monitorEventLoopDelay({ resolution: 10 });
lag.enable();

process.on('uncaughtException', (err) => {
  send({ type: 'crash', error: `${err.name}: ${err.message}\n${err.stack?.split('\n').slice(1, 6).join('\n') ?? ''}` });
  setTimeout(() => process.exit(70), 200);
});

let controller: Controller;
/** Telemetry messages the controller took in (a new telemetry object in its live state). */
let telemetryIn = 0;

async function main(): Promise<void> {
  const log = pino({ name: 'controller', level: 'info' }, pino.destination({ dest: logFile, sync: true }));
  controller = await startController({ dataDir, ...(brokerUrl ? { brokerUrl } : {}), mqttPort: Number(mqttPort), httpPort: 0, host: '127.0.0.1', log });
  const last = new Map<string, number>();
  controller.live.onChange((id, state) => {
    if (state.telemetry && state.telemetry.ts !== last.get(id)) {
      telemetryIn++;
      last.set(id, state.telemetry.ts);
    }
  });
  send({ type: 'ready', httpUrl: controller.httpUrl, brokerUrl: controller.brokerUrl, adminToken: controller.adminToken, pid: process.pid });
}

function rolloutCounts(id: string): Extract<ChildReply, { type: 'rollout' }> {
  const rollout = controller.rolloutStore.get(id);
  const states: Record<string, number> = {};
  for (const d of controller.rolloutStore.devices(id)) states[d.state] = (states[d.state] ?? 0) + 1;
  const measurements = controller.rolloutStore.measurements(id);
  return { type: 'rollout', state: rollout?.state ?? 'missing', stage: rollout?.stage ?? -1, states, profiles: measurements.length, classes: new Set(measurements.map((m) => m.deviceClass)).size };
}

process.on('message', (msg: ToChild) => {
  if (msg.type === 'stats') {
    send({ type: 'stats', lagP50Ms: lag.percentile(50) / 1e6, lagP99Ms: lag.percentile(99) / 1e6, lagMaxMs: lag.max / 1e6, rowsWritten: controller.registry.rowsWritten(), online: controller.registry.count({ online: true }), devices: controller.registry.count(), telemetryIn });
    if (msg.reset) lag.reset();
  } else if (msg.type === 'rollout') send(rolloutCounts(msg.id));
  else if (msg.type === 'stop') {
    const t0 = performance.now();
    controller.close().then(
      () => {
        send({ type: 'closed', ms: performance.now() - t0, error: null });
        setTimeout(() => process.exit(0), 100);
      },
      (err: Error) => {
        send({ type: 'closed', ms: performance.now() - t0, error: err.message });
        setTimeout(() => process.exit(1), 100);
      },
    );
  }
});

main().catch((err: Error) => {
  send({ type: 'crash', error: `cannot start: ${err.message}` });
  process.exit(1);
});
