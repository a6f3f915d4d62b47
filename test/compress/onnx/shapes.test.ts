import { describe, expect, it } from 'vitest';
import { readModelFile } from '../../../compress/onnx/read.js';
import { inferShapes } from '../../../compress/onnx/shapes.js';
import { runWithIntermediates } from '../../../compress/onnx/session.js';
import { fixture, fixturesSkipReason, haveFixtures } from '../../fixtures.js';
import { handBuiltModel, syntheticImage } from './helpers.js';
import type { Model } from '../../../compress/onnx/ir.js';

async function compareWithOrt(model: Model, size: number): Promise<{ checked: number; unknown: string[] }> {
  const types = inferShapes(model);
  const names: string[] = [];
  const unknown: string[] = [];
  for (const n of model.graph.nodes) {
    for (const o of n.outputs) {
      if (!o) continue;
      if (types.has(o)) names.push(o);
      else unknown.push(`${n.opType}:${o}`);
    }
  }
  const out = await runWithIntermediates(model, { images: syntheticImage(size) }, names, { optimization: 'disabled' });
  for (const name of names) {
    expect({ name, dims: types.get(name)!.shape }).toEqual({ name, dims: [...out[name].dims] });
  }
  return { checked: names.length, unknown };
}

describe('inferShapes', () => {
  it('matches onnxruntime on the hand-built model', async () => {
    const r = await compareWithOrt(handBuiltModel(), 32);
    expect(r.unknown).toEqual([]);
    expect(r.checked).toBe(10);
  });
});

describe.skipIf(!haveFixtures)(`inferShapes on fixtures (${fixturesSkipReason})`, () => {
  for (const [file, size] of [
    ['yolov8n_int8_qdq.onnx', 640],
    ['yolov8n_pruned_int8_qdq.onnx', 640],
    ['yolov8n_int8_dynamic.onnx', 640],
    ['yolo11n_int8_dynamic_320.onnx', 320],
    ['yolov8n_int8_qlinear_broken.onnx', 640],
  ] as const) {
    it(`agrees with onnxruntime on every node output of ${file}`, async () => {
      const model = readModelFile(fixture('models', file));
      const r = await compareWithOrt(model, size);
      expect(r.unknown).toEqual([]);
      expect(r.checked).toBeGreaterThan(model.graph.nodes.length);
    });
  }
});
