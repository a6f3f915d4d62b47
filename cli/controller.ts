import { startController } from '../controller/controller.js';
import { UsageError, intFlag, parse } from './args.js';
import { DEFAULT_DATA_DIR } from './api-client.js';
import { refuseFile } from './files.js';
import { createLogger, onShutdown } from './log.js';

export const controllerFlags = {
  broker: { type: 'string' },
  'mqtt-port': { type: 'string' },
  port: { type: 'string' },
  host: { type: 'string' },
  data: { type: 'string' },
} as const;

export function controllerOptions(command: string, values: { broker?: string; 'mqtt-port'?: string; port?: string; host?: string; data?: string }) {
  if (values.broker !== undefined && !/^(mqtts?|wss?|tcp):\/\//.test(values.broker)) {
    throw new UsageError(`${command}: --broker must be a URL like mqtt://host:1883, got '${values.broker}'`);
  }
  // the port of the embedded broker, which --broker replaces
  if (values.broker !== undefined && values['mqtt-port'] !== undefined) throw new UsageError(`${command}: --mqtt-port is the embedded broker's port; with --broker there is none (the port goes in the URL)`);
  const dataDir = values.data ?? DEFAULT_DATA_DIR;
  refuseFile(command, 'data', dataDir, "give the controller's data folder");
  return {
    brokerUrl: values.broker,
    mqttPort: intFlag(command, 'mqtt-port', values['mqtt-port'], 1883, 0, 65535),
    httpPort: intFlag(command, 'port', values.port, 8080, 0, 65535),
    host: values.host ?? '0.0.0.0',
    dataDir,
  };
}

export async function run(argv: string[]): Promise<void> {
  const { values } = parse('controller', argv, controllerFlags, false);
  const log = createLogger('controller');
  const controller = await startController({ ...controllerOptions('controller', values), log });
  process.stdout.write(`edgefit controller: API ${controller.httpUrl}  MQTT ${controller.brokerUrl}\n`);
  onShutdown(log, () => controller.close());
}
