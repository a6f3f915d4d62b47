// Malformed ONNX files (seeded mutations of a small valid detector: cut,
// bit-flipped, huge or zero dimensions, cycles, external data, wrong opsets)
// through `model info`, `models add` (the controller's catalog) and the
// agent's loader, in this process: none may throw anything but its own
// one-line refusal, and model info's runnable line agrees with the loader.
// The bench (bench/fuzz.bench.ts) runs 1,000 in a child process that counts
// native crashes too.
import { afterAll, describe, expect, it } from 'vitest';
import { mutants, tinyDetectorBytes } from '../../bench/fuzz/onnx-mutants.js';
import { OnnxTargets, type Outcome } from '../../bench/fuzz/onnx-targets.js';
import { modelInfo } from '../../compress/onnx/info.js';
import { readModel } from '../../compress/onnx/read.js';

const COUNT = 50;
const SEED = 20;

describe('malformed ONNX files', () => {
  const targets = new OnnxTargets();
  afterAll(() => targets.close());

  it('the valid base loads everywhere (else every mutant would be refused for the wrong reason)', async () => {
    expect((await targets.all(tinyDetectorBytes())).map((o) => o.result)).toEqual(['ok', 'ok', 'ok']);
  });

  it(`${COUNT} seeded mutants: every refusal is one clear line, and model info's runnable line agrees with the loader`, async () => {
    const unclear: string[] = [];
    const raw: string[] = [];
    const disagree: string[] = [];
    const tally = { ok: 0, rejected: 0 };
    for (const m of mutants(tinyDetectorBytes(), COUNT, SEED)) {
      const outcomes: Outcome[] = await targets.all(m.bytes);
      for (const o of outcomes) {
        tally[o.result]++;
        if (o.result === 'rejected' && !o.clear) unclear.push(`${m.label} → ${o.target}: ${JSON.stringify(o.message.slice(0, 300))}`);
        if (o.result === 'rejected' && o.raw) raw.push(`${m.label} → ${o.target}: ${JSON.stringify(o.message.slice(0, 300))}`);
      }
      let runnable: boolean | undefined;
      try {
        runnable = modelInfo(readModel(m.bytes)).runnable.ok;
      } catch {
        runnable = undefined; // model info refused the file itself
      }
      const loader = outcomes[2];
      // what model info calls not runnable, the loader refuses; what the loader runs, model info calls runnable
      if (runnable === false && loader.result === 'ok') disagree.push(`${m.label}: model info says not runnable, the loader ran it`);
      if (runnable === undefined && loader.result === 'ok') disagree.push(`${m.label}: model info refused the file, the loader ran it`);
      if (loader.result === 'ok' && runnable !== true) disagree.push(`${m.label}: the loader ran it, model info says ${String(runnable)}`);
    }
    console.log(`onnx fuzz (seed ${SEED}): ${COUNT} mutants x 3 targets: ${tally.ok} ran, ${tally.rejected} refused, ${unclear.length} unclear, ${disagree.length} disagreements`);
    expect(unclear).toEqual([]);
    expect(raw).toEqual([]);
    expect(disagree).toEqual([]);
    // the mutants must reach both sides: some still load, most are refused
    expect(tally.rejected).toBeGreaterThan(COUNT);
  });
});
