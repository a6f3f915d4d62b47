import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { localDeviceId } from '../../cli/up.js';
import { runCli, spawnCli, stop, type CliProcess } from '../helpers/cli.js';
import { waitFor } from '../helpers/wait.js';

describe('edgefit up (what npm start runs) and the devices commands', () => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'edgefit-up-'));
  let up: CliProcess | undefined;
  let api = '';

  afterAll(async () => {
    await stop(up);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('shows this machine online in GET /api/devices within 20 seconds', async () => {
    const startedAt = Date.now();
    up = spawnCli(['up', '--port', '0', '--mqtt-port', '0', '--data', dataDir]);
    api = (await waitFor(() => /API\s+(http:\/\/\S+?)\/api\/devices/.exec(up!.output())?.[1], 15_000, 'the API URL'))!;
    const token = readFileSync(path.join(dataDir, 'admin.token'), 'utf8').trim();
    const device = await waitFor(
      async () => {
        const res = await fetch(`${api}/api/devices`, { headers: { authorization: `Bearer ${token}` } });
        const body = (await res.json()) as { devices: Array<{ id: string; online: boolean; inventory: unknown }> };
        return body.devices.find((d) => d.id === localDeviceId() && d.online && d.inventory);
      },
      20_000,
      'the local device online',
    );
    expect(device.id).toBe(localDeviceId());
    expect(Date.now() - startedAt).toBeLessThan(20_000);
    expect(up.output()).toMatch(/dashboard\s+http:\/\/127\.0\.0\.1:\d+\/#token=/);
  });

  it('adds, labels and lists devices through the CLI', async () => {
    const added = await runCli(['devices', 'add', 'pi-kitchen', '--controller', api, '--data', dataDir]);
    expect(added.code, added.output).toBe(0);
    expect(added.output.split('\n')[0]).toMatch(/^[A-Za-z0-9_-]{32}$/);
    const labelled = await runCli(['devices', 'label', 'pi-kitchen', 'site=home', 'tier=edge', '--controller', api, '--data', dataDir]);
    expect(labelled.code, labelled.output).toBe(0);
    const listed = await runCli(['devices', '--json', '--controller', api, '--data', dataDir]);
    expect(listed.code, listed.output).toBe(0);
    const devices = JSON.parse(listed.output) as Array<{ id: string; online: boolean; labels: Record<string, string> }>;
    expect(devices.find((d) => d.id === 'pi-kitchen')).toMatchObject({ online: false, labels: { site: 'home', tier: 'edge' } });
    const table = await runCli(['devices', '--controller', api, '--data', dataDir]);
    expect(table.output).toMatch(/pi-kitchen\s+offline\s+never/);
    // the controller took a random port: --data alone finds it
    expect(readFileSync(path.join(dataDir, 'controller.url'), 'utf8').trim()).toBe(api);
    const found = await runCli(['devices', '--json', '--data', dataDir]);
    expect(found.code, found.output).toBe(0);
    expect((JSON.parse(found.output) as Array<{ id: string }>).map((d) => d.id)).toContain('pi-kitchen');
  });

  it('answers usage mistakes with exit 2 and a clear message', async () => {
    const bad = await runCli(['devices', 'add', '--controller', api, '--data', dataDir]);
    expect(bad.code).toBe(2);
    expect(bad.output).toMatch(/give exactly one device NAME/);
    const badLabel = await runCli(['devices', 'label', 'pi-kitchen', 'oops', '--controller', api, '--data', dataDir]);
    expect(badLabel.code).toBe(2);
    const unknown = await runCli(['frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.output).toMatch(/unknown command 'frobnicate'/);
    const agent = await runCli(['agent', '--id', 'x']);
    expect(agent.code).toBe(2);
    expect(agent.output).toMatch(/--broker is required/);
    const help = await runCli(['--help']);
    expect(help.code).toBe(0);
    expect(help.output).toMatch(/devices add\s+register a device and print its token/);
    const addHelp = await runCli(['devices', 'add', '--help']);
    expect(addHelp.code).toBe(0);
    expect(addHelp.output).toMatch(/Usage: edgefit devices add NAME/);
  });

  it('on SIGTERM, stops and takes its URL out of the data dir', async () => {
    await stop(up);
    expect(existsSync(path.join(dataDir, 'controller.url'))).toBe(false);
    expect(existsSync(path.join(dataDir, 'admin.token'))).toBe(true);
  });
});
