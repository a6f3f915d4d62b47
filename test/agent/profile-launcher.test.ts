import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { nodeLaunch } from '../../agent/profile/launcher.js';
import { runCliApart } from '../helpers/cli.js';
import { builtYolov8n } from './models.js';

const NODE = '/opt/node/bin/node';

describe('the node launcher of the profiling child', () => {
  it('runs node directly without a launcher', () => {
    expect(nodeLaunch(NODE, undefined)).toEqual({ execPath: NODE, execArgv: [] });
    expect(nodeLaunch(NODE, '')).toEqual({ execPath: NODE, execArgv: [] });
    expect(nodeLaunch(NODE, '  \t ')).toEqual({ execPath: NODE, execArgv: [] });
  });

  it('runs node as the launcher\'s last argument: `qemu-aarch64-static /opt/node/bin/node child.js`', () => {
    expect(nodeLaunch(NODE, 'qemu-aarch64-static')).toEqual({ execPath: 'qemu-aarch64-static', execArgv: [NODE] });
    // The launcher's own arguments come first, blanks around and between them do not count.
    expect(nodeLaunch(NODE, ' qemu-aarch64-static  -L /usr/aarch64-linux-gnu ')).toEqual({ execPath: 'qemu-aarch64-static', execArgv: ['-L', '/usr/aarch64-linux-gnu', NODE] });
  });
});

describe('edgefit profile through EDGEFIT_NODE_LAUNCHER', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'edgefit-launcher-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('starts the profiling child through the launcher, which gets node and the child script as its arguments', async () => {
    const model = builtYolov8n(dir, 64);
    const log = path.join(dir, 'launched.txt');
    const launcher = path.join(dir, 'launcher.sh');
    // A launcher that writes down what it was asked to start, and the child's malloc tunables, then starts it.
    writeFileSync(launcher, `#!/bin/sh\nprintf '%s\\n' "$@" "$GLIBC_TUNABLES" > '${log}'\nexec "$@"\n`);
    chmodSync(launcher, 0o755);
    const r = await runCliApart(['profile', model, '--runs', '2', '--warmup', '0', '--json'], { env: { EDGEFIT_NODE_LAUNCHER: launcher }, limitMs: 60_000 });
    expect(r.code, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as { ok: boolean }).ok).toBe(true);
    const args = readFileSync(log, 'utf8').trim().split('\n');
    expect(args[0]).toBe(process.execPath);
    expect(args[1]).toMatch(/agent[/\\]profile[/\\]child\.js$/);
    expect(args[2]).toBe('glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=268435456');
  });

  it('fails the profile with the reason when the launcher cannot be started', async () => {
    const model = builtYolov8n(dir, 64);
    const r = await runCliApart(['profile', model, '--runs', '1', '--warmup', '0'], { env: { EDGEFIT_NODE_LAUNCHER: path.join(dir, 'no-such-launcher') }, limitMs: 30_000 });
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toMatch(/^edgefit profile: cannot start the profiling process: .*no-such-launcher ENOENT$/);
  });
});
