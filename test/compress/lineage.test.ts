import { describe, expect, it } from 'vitest';
import { addLineageStep, LINEAGE_KEY, readLineage, startBuildLineage } from '../../compress/lineage.js';
import { readModel } from '../../compress/onnx/read.js';
import { writeModel } from '../../compress/onnx/write.js';
import { edgefitVersion } from '../../protocol/version.js';
import { handBuiltModel } from './onnx/helpers.js';

const sha = 'a'.repeat(64);

describe('lineage', () => {
  it('starts at the base hash, keeps it across steps, and names edgefit as the producer', () => {
    const model = handBuiltModel();
    addLineageStep(model, sha, 'dequantize', { from: 'qdq-int8' });
    addLineageStep(model, 'b'.repeat(64), 'fp16', { keepIoFloat: true });
    const lineage = readLineage(readModel(writeModel(model)));
    expect(lineage?.base).toBe(sha);
    expect(lineage?.steps.map((s) => [s.method, s.params])).toEqual([['dequantize', { from: 'qdq-int8' }], ['fp16', { keepIoFloat: true }]]);
    expect([model.producerName, model.producerVersion]).toEqual(['edgefit', edgefitVersion()]);
  });

  it('a built model has no base file: its chain starts with the build step and keeps a null base', () => {
    const model = handBuiltModel();
    startBuildLineage(model, { model: 'yolov8n', nc: 2, imgsz: 32, seed: 0 });
    addLineageStep(model, sha, 'resize', { from: 32, to: 64 });
    const lineage = readLineage(model);
    expect(lineage?.base).toBeNull();
    expect(lineage?.steps.map((s) => s.method)).toEqual(['build', 'resize']);
    expect(lineage?.steps[0].params).toEqual({ model: 'yolov8n', nc: 2, imgsz: 32, seed: 0 });
  });

  it('reads lineages written before null bases existed, and answers anything else with null', () => {
    const model = handBuiltModel();
    const old = { base: sha, steps: [{ method: 'prune', params: { ratio: 0.25 }, at: '2025-01-01T00:00:00.000Z', edgefit: '0.1.0' }] };
    model.metadata.set(LINEAGE_KEY, JSON.stringify(old));
    expect(readLineage(model)).toEqual(old);
    for (const junk of ['not json', '[]', '{"steps":[]}', '{"base":3,"steps":[]}', `{"base":"${sha}","steps":[{"params":{}}]}`, `{"base":"${sha}","steps":[{"method":"x","params":[]}]}`]) {
      model.metadata.set(LINEAGE_KEY, junk);
      expect(readLineage(model), junk).toBeNull();
    }
  });
});
