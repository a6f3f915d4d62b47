// The operator profile on real onnxruntime: a builder-made 64 px YOLOv8n run
// with session profiling, its trace parsed and mapped back onto the model.
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { measureOpProfile } from '../../agent/profile/op-profile.js';
import { writeModel } from '../../compress/onnx/write.js';
import { buildYolov8 } from '../../compress/yolo/builder.js';
import { OpProfileReport } from '../../protocol/messages.js';

describe('operator profile of a real session', () => {
  it('times every conv of the model under its own name and accounts for every kernel', async () => {
    const model = buildYolov8({ scale: 'n', imgsz: 64 });
    const bytes = writeModel(model);
    const feeds = { images: new ort.Tensor('float32', new Float32Array(3 * 64 * 64).fill(0.5), [1, 3, 64, 64]) };
    const report = await measureOpProfile({ bytes, threads: 1, executionProviders: ['cpu'], feeds, warmup: 2, runs: 4 });
    expect(OpProfileReport.safeParse(report).success).toBe(true);
    expect(report).toMatchObject({ threads: 1, runs: 4, warmupRuns: 2, truncated: false });

    // every conv runs as a kernel of its own (plain, fused or NCHWc): its name leads back to it
    const convs = model.graph.nodes.filter((n) => n.opType === 'Conv').map((n) => n.name);
    const timed = new Map(report.nodes.map((n) => [n.node, n]));
    const missing = convs.filter((c) => !((timed.get(c)?.ms ?? 0) > 0));
    expect(missing, `convs without a kernel time: ${missing.join(', ')}`).toEqual([]);

    // what does not map is named, and its time went to a node of the model
    const names = new Set(model.graph.nodes.map((n) => n.name));
    for (const u of report.unmapped) expect(u.to !== null && names.has(u.to), `${u.name} (${u.op}) → ${u.to}`).toBe(true);
    // the model's nodes carry all kernel time (each figure is rounded to 1 µs)
    const carried = report.nodes.reduce((s, n) => s + n.ms + n.absorbedMs, 0);
    expect(Math.abs(carried - report.kernelMs)).toBeLessThan(0.001 * (report.nodes.length + 1));
    expect(report.kernelMs).toBeLessThanOrEqual(report.runMs);

    // channel groups: one per prunable group, each timed
    expect(report.groups.length).toBeGreaterThan(10);
    expect(report.groups.every((g) => g.ms > 0 && g.units > 0)).toBe(true);
  });
});
