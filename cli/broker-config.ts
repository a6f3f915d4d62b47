import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { openDb } from '../controller/db.js';
import { DYNSEC_PLUGIN_PATHS, MOSQUITTO_TLS_FILES, mosquittoAcl, mosquittoConf, mosquittoPasswd } from '../controller/mosquitto-config.js';
import { DYNSEC_FILE, dynsecFile } from '../controller/dynsec/config-file.js';
import { controllerSans, loadOrCreateServerTls } from '../controller/tls/store.js';
import { Registry } from '../controller/registry.js';
import { loadOrCreateSecret } from '../controller/secrets.js';
import { UsageError, intFlag, parse, requireFlag } from './args.js';
import { DEFAULT_DATA_DIR } from './api-client.js';
import { refuseFile } from './files.js';

/**
 * `edgefit broker-config --out DIR [--data DIR] [--config-dir PATH] [--port 1883] [--dynsec [--plugin PATH]] [--tls [--tls-port 8883] [--tls-san NAME]... [--client-certs]]`:
 * Mosquitto password, ACL and config files for the registry; with --dynsec, the dynamic-security plugin's config and
 * its starting dynamic-security.json instead (the controller, run with --broker-dynsec, then keeps it in step live). --config-dir is where Mosquitto will see the files (in a container).
 * --tls hands Mosquitto the controller's CA and server certificate (made in --data if not there yet), so agents verify
 * Mosquitto with the same ca.pem as the controller.
 */
export async function run(argv: string[]): Promise<void> {
  const { values } = parse(
    'broker-config',
    argv,
    {
      out: { type: 'string' },
      data: { type: 'string' },
      'config-dir': { type: 'string' },
      port: { type: 'string' },
      tls: { type: 'boolean' },
      'tls-port': { type: 'string' },
      'tls-san': { type: 'string', multiple: true },
      'client-certs': { type: 'boolean' },
      dynsec: { type: 'boolean' },
      plugin: { type: 'string' },
    },
    false,
  );
  const out = requireFlag('broker-config', 'out', values.out);
  // checked before anything is written: a bad --port used to leave passwd and acl without mosquitto.conf
  const port = intFlag('broker-config', 'port', values.port, 1883, 1, 65535);
  const needsTls = (['tls-port', 'tls-san', 'client-certs'] as const).find((f) => values[f] !== undefined);
  if (!values.tls && needsTls) throw new UsageError(`broker-config: --${needsTls} needs --tls`);
  const tlsPort = intFlag('broker-config', 'tls-port', values['tls-port'], 8883, 1, 65535);
  if (values.tls && tlsPort === port) throw new UsageError(`broker-config: --tls-port and --port are both ${port}; the plain loopback listener needs its own port`);
  if (values.plugin !== undefined && !values.dynsec) throw new UsageError('broker-config: --plugin is the dynamic-security plugin\'s path; it needs --dynsec');
  const plugin = values.plugin ?? DYNSEC_PLUGIN_PATHS.find((p) => existsSync(p)) ?? DYNSEC_PLUGIN_PATHS[DYNSEC_PLUGIN_PATHS.length - 1];
  const dataDir = values.data ?? DEFAULT_DATA_DIR;
  refuseFile('broker-config', 'out', out);
  refuseFile('broker-config', 'data', dataDir);
  const db = openDb(dataDir);
  try {
    const registry = new Registry(db);
    const secret = loadOrCreateSecret(dataDir, 'controller.secret');
    mkdirSync(out, { recursive: true });
    let written: string;
    if (values.dynsec) written = writeDynsecFile(out, secret, registry);
    else {
      writeFileSync(path.join(out, 'passwd'), mosquittoPasswd(secret, registry.tokenHashes()), { mode: 0o600 });
      writeFileSync(path.join(out, 'acl'), mosquittoAcl());
      written = `passwd (${registry.tokenHashes().length} devices + controller), acl`;
    }
    const configDir = values['config-dir'] ?? path.resolve(out);
    if (values.tls) {
      // Mosquitto may run on another machine: its names go in with --tls-san (the certificate is the controller's, renewed when a name is new).
      const tls = await loadOrCreateServerTls(dataDir, { sans: controllerSans('0.0.0.0', values['tls-san'] ?? []) });
      writeFileSync(path.join(out, MOSQUITTO_TLS_FILES.ca), tls.caPem);
      writeFileSync(path.join(out, MOSQUITTO_TLS_FILES.cert), tls.certPem);
      writeFileSync(path.join(out, MOSQUITTO_TLS_FILES.key), tls.keyPem, { mode: 0o600 });
    }
    const tlsListener = values.tls ? { port: tlsPort, requireCertificate: values['client-certs'] ?? false } : undefined;
    writeFileSync(path.join(out, 'mosquitto.conf'), mosquittoConf(configDir, port, tlsListener, values.dynsec ? { plugin, file: DYNSEC_FILE } : undefined));
    const tlsNote = values.tls ? `, ca.pem, server.pem and server-key.pem (mqtts on ${tlsPort}${values['client-certs'] ? ', client certificates required' : ''}; plain ${port} on loopback only)` : '';
    process.stdout.write(`wrote ${written}${tlsNote} and mosquitto.conf to ${out}\n`);
    if (values.dynsec) {
      const found = existsSync(plugin) ? '' : ` (not on this machine: give --plugin PATH as Mosquitto's machine has it)`;
      process.stdout.write(`Mosquitto loads the plugin ${plugin}${found}; run the controller with --broker URL --broker-dynsec\n`);
    }
  } finally {
    db.close();
  }
}

/**
 * The plugin's starting file: the controller as its admin and the registered
 * devices with their stored hashes. One already there is the broker's own
 * (the plugin writes it back on every change) and is kept: the controller
 * reconciles it with the registry when it connects.
 */
function writeDynsecFile(out: string, secret: string, registry: Registry): string {
  const file = path.join(out, DYNSEC_FILE);
  if (existsSync(file)) return `nothing new to ${DYNSEC_FILE} (kept: the broker keeps it, and the controller brings it in step with the registry when it connects)`;
  const devices = registry.tokenHashes();
  // The plugin rewrites it as Mosquitto's user, through a file beside it: that user must own the folder (chown mosquitto).
  writeFileSync(file, JSON.stringify(dynsecFile(secret, devices), null, 2) + '\n', { mode: 0o600 });
  return `${DYNSEC_FILE} (${devices.length} devices + the controller as the plugin's admin)`;
}
