// `node dist/bench/fleet-scale/main.js [--devices 10000] [--broker embedded|mosquitto|both] [--workers 2] [--steady-s 60] [--no-dashboard]`
// (also `npm run bench fleet-scale`): N simulated devices against one
// controller; tables to bench-output/fleet-scale.md and .json.
import os from 'node:os';
import { parseArgs } from 'node:util';
import { writeReport } from '../common.js';
import { mosquittoBin } from './mosquitto.js';
import { markdown } from './report.js';
import { runScenario, type Figures } from './scenario.js';

export async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { devices: { type: 'string' }, broker: { type: 'string' }, workers: { type: 'string' }, 'steady-s': { type: 'string' }, 'storm-timeout-s': { type: 'string' }, 'rollout-timeout-s': { type: 'string' }, 'no-dashboard': { type: 'boolean' }, out: { type: 'string' } } });
  const devices = Number(values.devices ?? process.env.FLEET_SCALE_DEVICES ?? 10_000);
  const brokers = (values.broker ?? 'both') === 'both' ? (['embedded', 'mosquitto'] as const) : [values.broker as 'embedded' | 'mosquitto'];
  const runs: Figures[] = [];
  const t0 = Date.now();
  const log = (line: string) => console.log(`[${((Date.now() - t0) / 1000).toFixed(0).padStart(4)} s] ${line}`);
  for (const broker of brokers) {
    if (broker === 'mosquitto' && !mosquittoBin) {
      log('mosquitto: skipped, no mosquitto binary');
      continue;
    }
    try {
      runs.push(await runScenario({ broker, devices, workers: Number(values.workers ?? 2), steadyS: Number(values['steady-s'] ?? 60), stormTimeoutS: Number(values['storm-timeout-s'] ?? 300), rolloutTimeoutS: Number(values['rollout-timeout-s'] ?? 600), dashboard: !values['no-dashboard'], log }));
    } catch (err) {
      log(`${broker}: failed: ${(err as Error).stack}`);
      runs.push({ broker, devices, error: (err as Error).message });
    }
  }
  const context = `Run ${new Date().toISOString()} on ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'CPU'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}: the controller in its own process, the devices in worker processes (mqtt.js clients) on the same cores, so the simulator's load competes with the controller's. Load average at the end: ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}.`;
  const name = values.out ?? 'fleet-scale';
  console.log(`\n${markdown(runs, context)}`);
  console.log(`written to ${writeReport(`${name}.md`, markdown(runs, context))} and ${writeReport(`${name}.json`, JSON.stringify(runs, null, 2))}`);
  return runs.some((r) => 'error' in r) ? 1 : 0;
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').slice(-2).join('/'))) {
  main(process.argv.slice(2)).then((code) => process.exit(code));
}
