// Debian's Mosquitto for the external-broker run, configured as an operator
// would: `edgefit broker-config` writes its password file (every device's
// token hash), ACL and mosquitto.conf from the controller's data folder.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { repoRoot } from '../common.js';

export const mosquittoBin = ['/usr/sbin/mosquitto', '/usr/bin/mosquitto'].find((p) => spawnSync(p, ['-h']).status !== null);

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

export async function startMosquitto(dir: string, dataDir: string, port: number): Promise<{ process: ChildProcess; url: string }> {
  const out = path.join(dir, 'mosquitto');
  const cli = path.join(repoRoot, 'dist', 'cli', 'main.js');
  const generated = spawnSync(process.execPath, [cli, 'broker-config', '--out', out, '--data', dataDir, '--port', String(port)], { encoding: 'utf8' });
  if (generated.status !== 0) throw new Error(`broker-config failed: ${generated.stderr}`);
  // Mosquitto started as root drops to its own user, which must reach the owner-only files.
  for (const p of [dir, out, path.join(out, 'passwd')]) chmodSync(p, 0o755);
  const child = spawn(mosquittoBin!, ['-c', path.join(out, 'mosquitto.conf')], { stdio: 'ignore' });
  const deadline = Date.now() + 10_000;
  while (!(await listening(port))) {
    if (Date.now() > deadline) throw new Error('mosquitto did not listen within 10 s');
    await new Promise((r) => setTimeout(r, 50));
  }
  return { process: child, url: `mqtt://127.0.0.1:${port}` };
}
