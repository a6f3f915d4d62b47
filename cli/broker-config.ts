import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { openDb } from '../controller/db.js';
import { mosquittoAcl, mosquittoConf, mosquittoPasswd } from '../controller/mosquitto-config.js';
import { Registry } from '../controller/registry.js';
import { loadOrCreateSecret } from '../controller/secrets.js';
import { intFlag, parse, requireFlag } from './args.js';
import { DEFAULT_DATA_DIR } from './api-client.js';
import { refuseFile } from './files.js';

/**
 * `edgefit broker-config --out DIR [--data DIR] [--config-dir PATH] [--port 1883]`: Mosquitto password,
 * ACL and config files for the registry. --config-dir is where Mosquitto will see the files (in a container).
 */
export async function run(argv: string[]): Promise<void> {
  const { values } = parse('broker-config', argv, { out: { type: 'string' }, data: { type: 'string' }, 'config-dir': { type: 'string' }, port: { type: 'string' } }, false);
  const out = requireFlag('broker-config', 'out', values.out);
  // checked before anything is written: a bad --port used to leave passwd and acl without mosquitto.conf
  const port = intFlag('broker-config', 'port', values.port, 1883, 1, 65535);
  const dataDir = values.data ?? DEFAULT_DATA_DIR;
  refuseFile('broker-config', 'out', out);
  refuseFile('broker-config', 'data', dataDir);
  const db = openDb(dataDir);
  try {
    const registry = new Registry(db);
    const secret = loadOrCreateSecret(dataDir, 'controller.secret');
    mkdirSync(out, { recursive: true });
    writeFileSync(path.join(out, 'passwd'), mosquittoPasswd(secret, registry.tokenHashes()), { mode: 0o600 });
    writeFileSync(path.join(out, 'acl'), mosquittoAcl());
    writeFileSync(path.join(out, 'mosquitto.conf'), mosquittoConf(values['config-dir'] ?? path.resolve(out), port));
    process.stdout.write(`wrote passwd (${registry.tokenHashes().length} devices + controller), acl and mosquitto.conf to ${out}\n`);
  } finally {
    db.close();
  }
}
