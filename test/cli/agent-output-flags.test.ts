// The agent's output flags on bad input: exit 2 and one line on stderr,
// before the agent connects anywhere (the broker given here does not exist).
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { expectUsage, runCliApart } from '../helpers/cli.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'edgefit-agent-flags-'));
const agent = (...flags: string[]) =>
  runCliApart(['agent', '--broker', 'mqtt://127.0.0.1:1', '--id', 'pi-1', '--token', 't', '--state', path.join(dir, 'state'), ...flags], { limitMs: 60_000 });

describe('edgefit agent output flags', () => {
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each([
    [['--detections', dir], new RegExp(`^edgefit agent: --detections ${dir} is a folder$`)],
    [['--detections', path.join(dir, 'no', 'such', 'x.jsonl')], /^edgefit agent: --detections .*x\.jsonl is in a folder that does not exist$/],
    [['--detections', ''], /^edgefit agent: --detections needs a file path, or '-' for stdout$/],
    [['--publish-detections', '0'], /^edgefit agent: --publish-detections must be a rate in \(0, 10\] messages a second, got '0'$/],
    [['--publish-detections', '11'], /^edgefit agent: --publish-detections must be a number in \[0, 10\], got '11'$/],
    [['--publish-detections', 'fast'], /^edgefit agent: --publish-detections must be a number in \[0, 10\], got 'fast'$/],
    [['--snapshot-every=-1'], /^edgefit agent: --snapshot-every must be a number in \[0, 3600\], got '-1'$/],
    [['--snapshot-every', '0.5'], /^edgefit agent: --snapshot-every must be 0 \(off\) or 1 to 3600 seconds, got '0.5'$/],
  ])('%j exits 2 with one line', async (flags, message) => {
    const r = await agent(...flags);
    expectUsage({ ...r, stderr: r.stderr.trim() }, message);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });
});
