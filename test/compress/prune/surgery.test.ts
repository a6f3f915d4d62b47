import { describe, expect, it } from 'vitest';
import { buildDependencyGraph } from '../../../compress/prune/dependency.js';
import { buildGroups, type GroupIndex } from '../../../compress/prune/groups.js';
import { applyPruning } from '../../../compress/prune/surgery.js';
import { buildYolov8 } from '../../../compress/yolo/builder.js';
import type { Model } from '../../../compress/onnx/ir.js';
import { Net, output, relativeError, zeroedModel } from './helpers.js';

const SIZE = 16;

/** Removes every other unit (but at least one kept) of every prunable group. */
function everyOther(index: GroupIndex): Set<number> {
  const removed = new Set<number>();
  for (const g of index.groups) g.units.forEach((u, k) => k % 2 === 1 && removed.add(u));
  return removed;
}

async function expectExact(model: Model, size = SIZE, minGroups = 1): Promise<GroupIndex> {
  const dep = buildDependencyGraph(model);
  const index = buildGroups(dep);
  expect(index.groups.length).toBeGreaterThanOrEqual(minGroups);
  const removed = everyOther(index);
  expect(removed.size).toBeGreaterThan(0);
  const pruned = applyPruning(dep, removed);
  const [a, b, same] = await Promise.all([output(zeroedModel(dep, removed), size), output(pruned, size), output(applyPruning(dep, new Set()), size)]);
  expect(relativeError(a, b)).toBeLessThan(1e-4);
  expect(relativeError(await output(model, size), same)).toBe(0);
  return index;
}

describe('channel surgery is exact for every coupling', () => {
  it('plain conv chain', async () => {
    const n = new Net();
    const x = n.convSilu(n.convSilu('images', 3, 8), 8, 8);
    await expectExact(n.model(n.conv(x, 8, 4)), SIZE, 2);
  });

  it('residual Add couples both producers into one group', async () => {
    const n = new Net();
    const a = n.convSilu('images', 3, 8);
    const b = n.convSilu(a, 8, 8);
    const sum = n.op('Add', [a, b])[0];
    const index = await expectExact(n.model(n.conv(sum, 8, 4)));
    expect(index.groups.find((g) => g.producers.length === 2)?.units.length).toBe(8);
  });

  it('Split and Concat on the channel axis (C2f), split sizes rewritten', async () => {
    const n = new Net();
    const y = n.convSilu('images', 3, 8, 1);
    const [p, q] = n.op('Split', [y], { axis: { type: 'int', value: 1 }, split: { type: 'ints', value: [4, 4] } }, 2);
    const m = n.convSilu(q, 4, 4);
    const cat = n.op('Concat', [p, q, m], { axis: { type: 'int', value: 1 } })[0];
    await expectExact(n.model(n.conv(cat, 12, 4), SIZE, 11), SIZE, 3);
    // opset 13+: split sizes as an input
    const n2 = new Net();
    const y2 = n2.convSilu('images', 3, 8, 1);
    const [p2, q2] = n2.op('Split', [y2, n2.ints('sizes', [4, 4])], { axis: { type: 'int', value: 1 } }, 2);
    const cat2 = n2.op('Concat', [q2, p2], { axis: { type: 'int', value: 1 } })[0];
    await expectExact(n2.model(n2.conv(cat2, 8, 4)), SIZE, 2);
  });

  it('MaxPool, Resize and a repeated Concat (SPPF, upsample)', async () => {
    const n = new Net();
    const y = n.convSilu('images', 3, 8, 1);
    const pool = (x: string) => n.op('MaxPool', [x], { kernel_shape: { type: 'ints', value: [3, 3] }, pads: { type: 'ints', value: [1, 1, 1, 1] } })[0];
    const p1 = pool(y), p2 = pool(p1);
    const cat = n.op('Concat', [y, p1, p2], { axis: { type: 'int', value: 1 } })[0];
    const z = n.convSilu(cat, 24, 8, 1);
    const up = n.op('Resize', [z, '', n.floats('scales', [4], Float32Array.from([1, 1, 2, 2]))], { mode: { type: 'string', value: 'nearest' } })[0];
    const down = n.op('MaxPool', [up], { kernel_shape: { type: 'ints', value: [2, 2] }, strides: { type: 'ints', value: [2, 2] } })[0];
    await expectExact(n.model(n.conv(down, 8, 4)), SIZE, 2);
  });

  it('broadcast per-channel constants are sliced (Mul, Add, PRelu) and BatchNormalization parameters too', async () => {
    const n = new Net();
    const y = n.conv('images', 3, 8);
    const scaled = n.op('Mul', [y, n.floats('gain', [1, 8, 1, 1])])[0];
    const shifted = n.op('Add', [scaled, n.floats('shift', [8, 1, 1])])[0];
    const act = n.op('PRelu', [shifted, n.floats('slope', [8, 1, 1])])[0];
    const bn = n.op('BatchNormalization', [act, n.floats('scale', [8]), n.floats('bias', [8]), n.floats('mean', [8]), n.floats('var', [8], new Float32Array(8).fill(1))])[0];
    const half = n.op('Mul', [bn, n.floats('scalar', [1], Float32Array.from([0.5]))])[0];
    await expectExact(n.model(n.conv(half, 8, 4)));
  });

  it('depthwise and grouped convs', async () => {
    const n = new Net();
    const y = n.convSilu('images', 3, 8, 1);
    const dw = n.convSilu(y, 8, 8, 3, 8);
    const grouped = n.convSilu(dw, 8, 8, 3, 2);
    await expectExact(n.model(n.conv(grouped, 8, 4)), SIZE, 2);
  });

  it('Slice on the channel axis, Identity and Cast', async () => {
    const n = new Net();
    const y = n.convSilu('images', 3, 8, 1);
    const s = n.op('Slice', [y, n.ints('st', [2]), n.ints('en', [7]), n.ints('ax', [1])])[0];
    const id = n.op('Identity', [s])[0];
    const cast = n.op('Cast', [id], { to: { type: 'int', value: 1 } })[0];
    const rest = n.op('Slice', [y, n.ints('st2', [0]), n.ints('en2', [2]), n.ints('ax2', [1])])[0];
    const cat = n.op('Concat', [cast, rest], { axis: { type: 'int', value: 1 } })[0];
    await expectExact(n.model(n.conv(cat, 7, 4)));
  });

  it('blocks channels that reach Reshape, Transpose, Softmax or a graph output', () => {
    const n = new Net();
    const y = n.convSilu('images', 3, 8);
    const r = n.op('Reshape', [y, n.ints('shape', [1, 8, -1])])[0];
    const z = n.convSilu('images', 3, 8);
    const t = n.op('Softmax', [z], { axis: { type: 'int', value: 1 } })[0];
    const cat = n.op('Concat', [n.op('Flatten', [t])[0], n.op('Flatten', [r])[0]], { axis: { type: 'int', value: 1 } })[0];
    const index = buildGroups(buildDependencyGraph(n.model(cat)));
    expect(index.groups).toEqual([]);
  });
});

describe('whole YOLOv8 models', () => {
  it('yolov8n (builder, 160 px): pruned equals zeroed, ratio 0 equals original; Detect box/class outputs stay whole', async () => {
    const model = buildYolov8({ scale: 'n', imgsz: 160 });
    const index = await expectExact(model, 160, 40);
    const names = index.groups.flatMap((g) => g.producers.map((p) => p.node.name));
    expect(names.some((n) => /cv2\.0\.2|cv3\.0\.2|dfl/.test(n))).toBe(false);
    expect(names.some((n) => /model\.9\/cv1/.test(n))).toBe(true);
  });
});
