import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { clearEndpoint, ENDPOINT_FILE, readEndpoint, writeEndpoint } from '../../controller/endpoint.js';
import { ApiClient } from '../../cli/api-client.js';
import { freePort } from '../helpers/free-port.js';

describe('the controller URL in the data dir', () => {
  it('is written whole, read back, and cleared only by the controller that wrote it', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'edgefit-endpoint-'));
    expect(readEndpoint(dir)).toBeUndefined();
    writeEndpoint(dir, 'http://127.0.0.1:41234');
    expect(readEndpoint(dir)).toBe('http://127.0.0.1:41234');
    expect(readdirSync(dir)).toEqual([ENDPOINT_FILE]);
    clearEndpoint(dir, 'http://127.0.0.1:9999');
    expect(readEndpoint(dir)).toBe('http://127.0.0.1:41234');
    clearEndpoint(dir, 'http://127.0.0.1:41234');
    expect(readdirSync(dir)).toEqual([]);
    for (const junk of ['', 'not a url', 'ftp://host/x', 'http://']) {
      writeFileSync(path.join(dir, ENDPOINT_FILE), junk);
      expect(readEndpoint(dir), junk).toBeUndefined();
    }
  });

  it('is what the CLI uses without --controller, and a stale one is named in the error', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'edgefit-endpoint-'));
    writeFileSync(path.join(dir, 'admin.token'), 'x'.repeat(32));
    const port = await freePort();
    writeEndpoint(dir, `http://127.0.0.1:${port}`);
    const client = ApiClient.fromFlags('devices', undefined, dir);
    await expect(client.request('GET', '/api/devices')).rejects.toThrow(new RegExp(`cannot reach the controller at http://127\\.0\\.0\\.1:${port} \\(from .*controller\\.url, which a controller that did not shut down cleanly leaves behind\\)`));
    const explicit = ApiClient.fromFlags('devices', `http://127.0.0.1:${port}/`, dir);
    await expect(explicit.request('GET', '/api/devices')).rejects.toThrow(new RegExp(`at http://127\\.0\\.0\\.1:${port}: `));
  });
});
