// The serving side of an agent with the measurement lock held by a profiling
// job: a desired state whose model is at hand waits for the lock, and a newer
// desired state (or a stop) must not wait behind it. Real Serving, real
// onnxruntime models, a real lock held by hand; artifacts resolve to local files.
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { syntheticFrames } from '../../agent/serve/frames.js';
import { MeasurementLock } from '../../agent/serve/lock.js';
import { Serving } from '../../agent/serve/serving.js';
import { loadOrCreateSigningKey, signManifest } from '../../controller/artifacts/signing.js';
import type { ArtifactRef } from '../../protocol/artifacts.js';
import { encode, type Reported } from '../../protocol/messages.js';
import { PROTOCOL_VERSION } from '../../protocol/topics.js';
import { captureLogger } from '../helpers/log.js';
import { waitFor } from '../helpers/wait.js';
import { builtYolov8n } from './models.js';

describe('serving while a job holds the measurement lock', () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'edgefit-supersede-'));
  const files = new Map<string, string>();
  let first: ArtifactRef;
  let second: ArtifactRef;

  beforeAll(() => {
    const key = loadOrCreateSigningKey(root);
    const ref = (file: string): ArtifactRef => {
      const bytes = readFileSync(file);
      const sha256 = createHash('sha256').update(bytes).digest('hex');
      files.set(sha256, file);
      return { sha256, size: bytes.length, ...signManifest({ sha256, size: bytes.length, name: path.basename(file), kind: 'model', createdAt: Date.now() }, key) };
    };
    first = ref(builtYolov8n(root, 64, 0));
    second = ref(builtYolov8n(root, 64, 1));
  });

  afterAll(() => rmSync(root, { recursive: true, force: true }));

  function start() {
    const lock = new MeasurementLock();
    const reports: Reported[] = [];
    const capture = captureLogger();
    const serving = new Serving({
      artifacts: { ensure: async (ref) => files.get(ref.sha256)! },
      frames: syntheticFrames(2, 64, 64),
      lock,
      publishReported: (r) => reports.push(r),
      publishTelemetry: () => undefined,
      log: capture.log,
      healthWindowS: 1,
    });
    const desire = (generation: number, model: ArtifactRef) => serving.submit(encode({ v: PROTOCOL_VERSION, ts: Date.now(), generation, model }));
    const states = (generation: number) => reports.filter((r) => r.generation === generation).map((r) => r.state);
    return { lock, serving, desire, states, capture };
  }

  it('applies a newer desired state first and never activates the one it replaced', async () => {
    const { lock, serving, desire, states, capture } = start();
    const releaseJob = await lock.acquire('job held by hand', true);
    desire(1, first);
    await waitFor(() => states(1).includes('verifying'), 5000, 'gen 1 waiting for the lock');
    desire(2, second);
    await waitFor(() => capture.lines().some((l) => l.msg === 'desired state superseded while waiting for the measurement lock' && l.generation === 1), 5000, 'gen 1 given up');
    releaseJob();
    await waitFor(() => states(2).includes('healthy'), 20_000, 'gen 2 healthy');
    expect(states(1)).not.toContain('activating');
    expect(serving.current().activeModel?.sha256).toBe(second.sha256);
    // the lock went back: nothing still holds it for the given-up state
    expect(lock.heldBy).toBeNull();
    await serving.close();
  });

  it('loads nothing after a stop that came while it waited for the lock', async () => {
    const { lock, serving, desire, states, capture } = start();
    const releaseJob = await lock.acquire('job held by hand', true);
    desire(1, first);
    await waitFor(() => states(1).includes('verifying'), 5000, 'gen 1 waiting for the lock');
    await serving.close();
    releaseJob();
    // the state may still be reading its model file when the stop comes: wait for it to give up
    await waitFor(() => capture.lines().some((l) => l.msg === 'stopped while waiting for the measurement lock'), 5000, 'gen 1 given up');
    await waitFor(() => lock.heldBy === null, 5000, 'the lock free again');
    expect(states(1)).not.toContain('activating');
    expect(serving.serving).toBe(false);
  });
});
