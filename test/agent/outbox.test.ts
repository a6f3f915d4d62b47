import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Outbox } from '../../agent/jobs/outbox.js';
import type { Result } from '../../protocol/messages.js';
import { PROTOCOL_VERSION } from '../../protocol/topics.js';
import { captureLogger } from '../helpers/log.js';

const result = (i: number): Result => ({ v: PROTOCOL_VERSION, ts: 1, jobId: `job-${i}`, deviceId: 'pi-a', kind: 'profile', artifactSha256: 'ab'.repeat(32), ok: false, error: 'no model' });

describe('outbox', () => {
  let dir: string;
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('holds results in memory while the disk refuses them, and bounds how many wait there', () => {
    dir = mkdtempSync(path.join(tmpdir(), 'edgefit-outbox-'));
    // a file where the results folder should be: every write fails, as on a broken disk
    writeFileSync(path.join(dir, 'results'), '');
    const capture = captureLogger();
    // a broker that never acknowledges: nothing leaves the outbox
    const outbox = new Outbox(dir, () => new Promise<void>(() => undefined), capture.log);
    for (let i = 0; i < 1001; i++) outbox.put(result(i));
    expect(outbox.pending()).toHaveLength(1000);
    expect(outbox.get('job-0')).toBeUndefined();
    expect(outbox.get('job-1')?.jobId).toBe('job-1');
    expect(outbox.get('job-1000')?.jobId).toBe('job-1000');
    expect(capture.lines().filter((l) => typeof l.msg === 'string' && l.msg.startsWith('result lost:'))).toEqual([expect.objectContaining({ jobId: 'job-0' })]);
  });
});
