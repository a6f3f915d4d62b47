// The hand-off flags of `edgefit agent` on bad input: a mistake exits 2 with
// one line before the agent connects anywhere; a local API port that is taken
// stops a hand-off agent with one line (its application could not report).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectFailure, expectUsage, runCliApart } from '../helpers/cli.js';

const base = ['agent', '--broker', 'mqtt://127.0.0.1:1', '--id', 'hand-bad', '--token', 't'];
const cli = (args: string[]) => runCliApart([...base, ...args], { limitMs: 20_000 });

describe('edgefit agent hand-off flags on bad input', () => {
  let dir: string;
  let busy: Server;
  let busyPort: number;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'edgefit-handoff-flags-'));
    busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    busyPort = (busy.address() as { port: number }).port;
  });
  afterAll(() => {
    busy.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses --on-deploy and --on-deploy-timeout without --handoff', async () => {
    expectUsage(await cli(['--on-deploy', 'true']), /agent: --on-deploy needs --handoff DIR/);
    expectUsage(await cli(['--on-deploy-timeout', '5']), /agent: --on-deploy-timeout needs --handoff DIR/);
    expectUsage(await cli(['--handoff', path.join(dir, 'm'), '--on-deploy-timeout', '5']), /agent: --on-deploy-timeout needs --on-deploy/);
  });

  it('refuses a hand-off folder it cannot write, and bad numbers', async () => {
    const file = path.join(dir, 'a-file');
    writeFileSync(file, 'not a folder');
    const r = await cli(['--handoff', path.join(file, 'models')]);
    expectUsage(r, /agent: --handoff .*a-file\/models: cannot write models there: .*ENOTDIR/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expectUsage(await cli(['--handoff', dir, '--on-deploy', 'true', '--on-deploy-timeout', '0']), /on-deploy-timeout/);
    expectUsage(await cli(['--local-port', '70000']), /local-port/);
    expectUsage(await cli(['--health-window', 'soon']), /health-window/);
  });

  it('stops a hand-off agent whose local API port is taken, with one line', async () => {
    const r = await cli(['--handoff', dir, '--local-port', String(busyPort)]);
    expectFailure(r, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${busyPort} for applications .*EADDRINUSE`));
  });
});
