// The class's predictor as the planner gets it (LatencyPredictions.hints): from
// operator profiles stored in a real SQLite file for real model files, a
// predicted latency per candidate and the leave-one-out MAPE; none below three
// profiles; refitted when a profile arrives.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { nodeShapes, type NodeShape } from '../../compress/latency/features.js';
import { readModel } from '../../compress/onnx/read.js';
import { openDb } from '../../controller/db.js';
import { LatencyPredictions } from '../../controller/latency-predictions.js';
import { OpProfileStore } from '../../controller/op-profiles.js';
import { builtYolov8n } from '../agent/models.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'edgefit-hints-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// A device whose node time is linear in the node's shape features (µs = 0.002 · Σx) plus 1.5 ms outside kernels:
// a law the per-kind ridge fit can learn exactly, so the prediction of an unprofiled size is checked against it.
const nodeUs = (s: NodeShape) => 0.002 * s.x.reduce((a, b) => a + Math.abs(b), 0);
const modelMs = (shapes: NodeShape[]) => shapes.reduce((a, s) => a + nodeUs(s), 0) / 1000 + 1.5;

describe('LatencyPredictions.hints', () => {
  const sizes = [64, 96, 128, 160];
  const files = new Map<string, string>(sizes.map((s) => [`sha-${s}`, builtYolov8n(dir, s)]));
  const shapes = new Map([...files].map(([sha, f]) => [sha, nodeShapes(readModel(readFileSync(f)))] as const));
  const db = openDb(path.join(dir, 'data'));
  const ops = new OpProfileStore(db);
  const predictions = new LatencyPredictions(db, ops, (sha) => files.get(sha));
  const store = (sha: string, at: number) => {
    const s = shapes.get(sha)!;
    const nodes = s.map((n) => ({ node: n.node, op: 'Conv', ms: nodeUs(n) / 1000, absorbedMs: 0 }));
    const opProfile = { threads: 1, runs: 10, warmupRuns: 2, runMs: modelMs(s), kernelMs: modelMs(s) - 1.5, nodes, unmapped: [], absent: 0, groups: [], truncated: false };
    db.prepare('INSERT INTO op_profiles (artifact_sha256, device_class, ep, threads, candidate_id, device_id, job_id, model_ms, op_profile, measured_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)').run(sha, 'pi5', 'cpu', 1, sha, 'pi-1', `j-${sha}`, modelMs(s), JSON.stringify(opProfile), at);
  };
  const candidates = sizes.map((s) => ({ id: `c${s}`, sha256: `sha-${s}` }));

  it('gives nothing below three profiles, then a prediction per candidate within 5 % of the device law and its leave-one-out MAPE', async () => {
    store('sha-64', 1);
    store('sha-96', 2);
    expect(await predictions.hints('pi5', 'cpu', 1, candidates)).toBeUndefined();
    store('sha-128', 3);
    const h = await predictions.hints('pi5', 'cpu', 1, candidates);
    expect(h).toBeDefined();
    expect(h!.mapePct).not.toBeNull();
    expect([...h!.predictedMs.keys()].sort()).toEqual(['c128', 'c160', 'c64', 'c96']);
    // 160 px was never profiled: predicted from the three smaller sizes
    const truth = modelMs(shapes.get('sha-160')!);
    expect(Math.abs(h!.predictedMs.get('c160')! - truth) / truth).toBeLessThan(0.05);
    // another thread count is another predictor: none yet
    expect(await predictions.hints('pi5', 'cpu', 2, candidates)).toBeUndefined();
  });

  it('refits when the class gets a new operator profile', async () => {
    const before = await predictions.hints('pi5', 'cpu', 1, candidates);
    store('sha-160', 4);
    const after = await predictions.hints('pi5', 'cpu', 1, candidates);
    expect(after!.mapePct).not.toBe(before!.mapePct);
  });
});
