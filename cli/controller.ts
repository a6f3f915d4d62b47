import { isIP } from 'node:net';
import { startController, type ControllerTlsOptions } from '../controller/controller.js';
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
  tls: { type: 'boolean' },
  'tls-san': { type: 'string', multiple: true },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'tls-ca': { type: 'string' },
  'tls-client-certs': { type: 'boolean' },
  'plain-mqtt-port': { type: 'string' },
  'broker-dynsec': { type: 'boolean' },
} as const;

type ControllerFlagValues = {
  broker?: string;
  'mqtt-port'?: string;
  port?: string;
  host?: string;
  data?: string;
  tls?: boolean;
  'tls-san'?: string[];
  'tls-cert'?: string;
  'tls-key'?: string;
  'tls-ca'?: string;
  'tls-client-certs'?: boolean;
  'plain-mqtt-port'?: string;
  'broker-dynsec'?: boolean;
};

export function controllerOptions(command: string, values: ControllerFlagValues) {
  if (values.broker !== undefined && !/^(mqtts?|wss?|tcp):\/\//.test(values.broker)) {
    throw new UsageError(`${command}: --broker must be a URL like mqtt://host:1883, got '${values.broker}'`);
  }
  // the port of the embedded broker, which --broker replaces
  if (values.broker !== undefined && values['mqtt-port'] !== undefined) throw new UsageError(`${command}: --mqtt-port is the embedded broker's port; with --broker there is none (the port goes in the URL)`);
  const brokerDynsec = values['broker-dynsec'] ?? false;
  if (brokerDynsec && values.broker === undefined) {
    throw new UsageError(`${command}: --broker-dynsec is for an external Mosquitto with its dynamic-security plugin (--broker URL); the embedded broker reads the registry itself`);
  }
  const dataDir = values.data ?? DEFAULT_DATA_DIR;
  refuseFile(command, 'data', dataDir, "give the controller's data folder");
  const tls = tlsOptions(command, values);
  return {
    brokerUrl: values.broker,
    brokerDynsec,
    // mqtts' registered port under --tls: 1883 stays with the plain loopback listener
    mqttPort: intFlag(command, 'mqtt-port', values['mqtt-port'], tls ? 8883 : 1883, 0, 65535),
    httpPort: intFlag(command, 'port', values.port, 8080, 0, 65535),
    host: values.host ?? '0.0.0.0',
    dataDir,
    ...(tls ? { tls } : {}),
  };
}

/** The --tls flags: each mistake is one line, before anything starts. */
function tlsOptions(command: string, values: ControllerFlagValues): ControllerTlsOptions | undefined {
  const needsTls = (['tls-san', 'tls-cert', 'tls-key', 'tls-ca', 'tls-client-certs', 'plain-mqtt-port'] as const).filter((f) => values[f] !== undefined);
  if (!values.tls) {
    if (needsTls.length > 0) throw new UsageError(`${command}: --${needsTls[0]} needs --tls`);
    return undefined;
  }
  const cert = values['tls-cert'];
  const key = values['tls-key'];
  if ((cert === undefined) !== (key === undefined)) throw new UsageError(`${command}: --tls-cert and --tls-key go together (your certificate and its key)`);
  if (values['tls-ca'] !== undefined && cert === undefined) throw new UsageError(`${command}: --tls-ca goes with --tls-cert; without them the controller makes its own CA in --data`);
  if (values['tls-san'] !== undefined && cert !== undefined) throw new UsageError(`${command}: --tls-san names go into the certificate the controller makes; yours (--tls-cert) carries its own`);
  if (values['tls-client-certs'] && cert !== undefined && values['tls-ca'] === undefined) throw new UsageError(`${command}: --tls-client-certs with your own certificate needs --tls-ca, the CA device certificates must chain to`);
  if (values['tls-client-certs'] && values.broker !== undefined) throw new UsageError(`${command}: --tls-client-certs is the embedded broker's; with --broker the broker requires them (broker-config --client-certs for Mosquitto)`);
  if (values['plain-mqtt-port'] !== undefined && values.broker !== undefined) throw new UsageError(`${command}: --plain-mqtt-port is the embedded broker's loopback listener; with --broker there is none`);
  const sans = values['tls-san'] ?? [];
  for (const san of sans) {
    if (!isIP(san) && !/^(\*\.)?[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*$/.test(san)) {
      throw new UsageError(`${command}: --tls-san must be a host name or an IP address, got '${san}'`);
    }
  }
  return {
    ...(sans.length ? { sans } : {}),
    ...(cert !== undefined && key !== undefined ? { files: { cert, key, ...(values['tls-ca'] !== undefined ? { ca: values['tls-ca'] } : {}) } } : {}),
    clientCerts: values['tls-client-certs'] ?? false,
    plainMqttPort: intFlag(command, 'plain-mqtt-port', values['plain-mqtt-port'], 1883, 0, 65535),
  };
}

export async function run(argv: string[]): Promise<void> {
  const { values } = parse('controller', argv, controllerFlags, false);
  const log = createLogger('controller');
  // certificates the operator gave that cannot be used throw E_TLS_CONFIG: main prints its one line (exit 1)
  const controller = await startController({ ...controllerOptions('controller', values), log });
  process.stdout.write(`edgefit controller: API ${controller.httpUrl}  MQTT ${controller.brokerUrl}\n`);
  if (controller.caFile) process.stdout.write(`  CA ${controller.caFile}: give it to agents (--ca FILE) so they verify this controller and its broker\n`);
  onShutdown(log, () => controller.close());
}
