// pruneModel and factorizeModel record their own lineage step, so the CLI and
// the catalog's ladder write the same fields for the same operation.
import { describe, expect, it } from 'vitest';
import { readLineage, sha256Hex } from '../../compress/lineage.js';
import { readModel } from '../../compress/onnx/read.js';
import { writeModel } from '../../compress/onnx/write.js';
import { pruneModel } from '../../compress/prune/prune.js';
import { IMPORTANCE_DEFINITION } from '../../compress/prune/importance.js';
import { factorizeModel } from '../../compress/factorize/factorize.js';
import { Net } from './prune/helpers.js';
import { oneConvModel } from './factorize/helpers.js';

const sha = 'c'.repeat(64);

function smallNet() {
  const n = new Net();
  const a = n.convSilu('images', 3, 16, 3);
  return n.model(n.conv(a, 16, 4, 1), 8);
}

describe('lineage written by the compressors themselves', () => {
  it('pruneModel: one prune step on the given base, round-to stored as a number', async () => {
    const { model } = await pruneModel(smallNet(), { method: 'l2', ratio: 0.5, roundTo: 4, baseSha256: sha });
    const lineage = readLineage(readModel(writeModel(model)));
    expect(lineage?.base).toBe(sha);
    expect(lineage?.steps.map((s) => s.method)).toEqual(['prune']);
    expect(lineage?.steps[0].params).toMatchObject({ method: 'l2', reduction: 'mean', importance: IMPORTANCE_DEFINITION, ratio: 0.5, allocation: 'uniform', roundTo: 4, maxLayerRatio: 0.9, reconstruct: false, recovery: 'none' });
  });

  it('pruneModel without a base hash chains to the hash of the model it was given', async () => {
    const input = smallNet();
    const base = sha256Hex(writeModel(input));
    const { model } = await pruneModel(input, { method: 'l1', ratio: 0.25 });
    expect(readLineage(model)?.base).toBe(base);
  });

  it('factorizeModel: one factorize step with its ranks', async () => {
    const input = oneConvModel({ cin: 16, cout: 16, k: 3, stride: 1, pads: [1, 1, 1, 1], size: 8 });
    const { model, report } = await factorizeModel(input, { method: 'lowrank', flopsCut: 0.3, minChannels: 8, baseSha256: sha });
    const lineage = readLineage(model);
    expect(lineage?.base).toBe(sha);
    expect(lineage?.steps.map((s) => s.method)).toEqual(['factorize']);
    expect(lineage?.steps[0].params).toMatchObject({ method: 'lowrank', flopsCut: 0.3, minChannels: 8, ranks: Object.fromEntries(report.layers.map((l) => [l.name, l.rank])) });
  });
});
