// `devices add` four seconds after `controller` started used to fail with
// "cannot reach the controller": controller.url was not written yet. A CLI
// now waits (up to STARTING_WAIT_MS) while a live controller is starting on
// its data dir, and not at all where none is.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ApiClient, STARTING_WAIT_MS } from '../../cli/api-client.js';
import { startController } from '../../controller/controller.js';
import { clearStarting, markStarting, readEndpoint, startingPid, STARTING_FILE, writeEndpoint } from '../../controller/endpoint.js';
import { captureLogger } from '../helpers/log.js';
import { freePort } from '../helpers/free-port.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
function dataDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'edgefit-race-'));
  dirs.push(dir);
  writeFileSync(path.join(dir, 'admin.token'), 'x'.repeat(32));
  return dir;
}

describe('a CLI run while the controller starts', () => {
  it('waits for the URL a starting controller writes, and answers', async () => {
    const dir = dataDir();
    markStarting(dir);
    expect(startingPid(dir)).toBe(process.pid);
    const server = http.createServer((_req, res) => res.setHeader('content-type', 'application/json').end('{"devices":[]}'));
    const port = await freePort();
    // the controller's HTTP listener comes up 1.5 s later, then it writes its URL and clears the mark
    const late = setTimeout(() => server.listen(port, '127.0.0.1', () => {
      writeEndpoint(dir, `http://127.0.0.1:${port}`);
      clearStarting(dir);
    }), 1500);
    try {
      const started = Date.now();
      await expect(ApiClient.fromFlags('devices', undefined, dir).request('GET', '/api/devices')).resolves.toEqual({ devices: [] });
      expect(Date.now() - started).toBeGreaterThanOrEqual(1400);
      expect(existsSync(path.join(dir, STARTING_FILE))).toBe(false);
    } finally {
      clearTimeout(late);
      server.close();
    }
  });

  it('does not wait on a mark left by a controller that died while starting, nor where none is starting', async () => {
    const dir = dataDir();
    const dead = spawnSync(process.execPath, ['-e', '0']).pid;
    markStarting(dir, dead);
    expect(startingPid(dir)).toBeUndefined();
    for (const d of [dir, dataDir()]) {
      // no controller.url: the default URL (whatever answers there, or nothing), at once rather than after STARTING_WAIT_MS
      const started = Date.now();
      await ApiClient.fromFlags('devices', undefined, d).request('GET', '/api/devices').catch(() => undefined);
      expect(Date.now() - started).toBeLessThan(STARTING_WAIT_MS / 2);
    }
  });

  it('is what startController writes first, clears once the URL is written, and clears when the start fails', async () => {
    const dir = dataDir();
    const log = captureLogger().log;
    const starting = startController({ dataDir: dir, mqttPort: 0, httpPort: 0, host: '127.0.0.1', log });
    // synchronously, before anything slow (database, broker, certificates, the HTTP listener)
    expect(startingPid(dir)).toBe(process.pid);
    expect(readEndpoint(dir)).toBeUndefined();
    const controller = await starting;
    try {
      expect(startingPid(dir)).toBeUndefined();
      expect(readEndpoint(dir)).toBe(controller.httpUrl);
      // a start that fails (here on certificate files that are not there) leaves no mark that would hold CLIs for 10 s
      const failed = dataDir();
      await expect(startController({ dataDir: failed, mqttPort: 0, httpPort: 0, host: '127.0.0.1', log, tls: { files: { cert: path.join(failed, 'none.pem'), key: path.join(failed, 'none-key.pem') } } })).rejects.toThrow(/cannot read --tls-cert .*none\.pem: ENOENT/);
      expect(readdirSync(failed)).not.toContain(STARTING_FILE);
    } finally {
      await controller.close();
    }
  });
});
