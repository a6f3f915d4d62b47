// Constructed cases for the held-back guards (recalibrate-guard.test.ts,
// substitution-guard.test.ts): small linear nets whose calibration sources are
// placed so that a fit gains in-sample only, or held back too.
import { expect } from 'vitest';
import { AgreementJudge } from '../../../compress/agreement.js';
import type { CalibrationSet } from '../../../compress/calibration.js';
import type { Model } from '../../../compress/onnx/ir.js';
import { pruneModel } from '../../../compress/prune/prune.js';
import { Net, seeded } from './helpers.js';

const size = 8;

/** The linear net cut, calibrated on two inputs per source image; `sign` places each source's inputs at +1 or −1. */
export async function linearCut(sign: (source: number) => number, sources = 2) {
  const net = new Net();
  const a = net.conv('images', 3, 8, 1);
  const b = net.conv(a, 8, 8, 1);
  const c = net.conv(b, 8, 4, 1);
  const model = net.model(c, size);
  const input = (source: number, seed: number) => seeded(3 * size * size, seed, 0.2).map((x) => x + sign(source));
  const folds = Array.from({ length: 2 * sources }, (_, i) => i >> 1);
  const calibration: CalibrationSet = { files: folds.filter((_, i) => i % 2 === 0).map((f) => `${f}.jpg`), inputs: folds.map((f, i) => input(f, i + 1)), size, sources: folds };
  // only the first conv's output channels go
  const { model: pruned, index, plan } = await pruneModel(model, { method: 'l1', ratio: 0.5, roundTo: 1, ignore: [new RegExp(`^Conv_${b}$`), new RegExp(`^Conv_${c}$`)] });
  expect(plan.removed.size).toBe(4);
  return { model, pruned, index, plan, calibration };
}

export async function loss(base: Model, calibration: CalibrationSet, candidate: Model): Promise<number> {
  return (await (await AgreementJudge.create(base, calibration)).judge(candidate)).loss;
}
