import { fitLocalPredictor } from '../../dist/agent/profile/fit-predictor.js';
import { sha256Hex } from '../../dist/compress/lineage.js';
import { runSearch, genomeLabel } from '../../dist/compress/search/run.js';
import { heldOutProtocol } from '../../dist/bench/held-out-views.js';
import { fixtureModelOrSkip } from '../../dist/bench/common.js';
import fs from 'node:fs';
const file = fixtureModelOrSkip('search');
const protocol = await heldOutProtocol(file, 8);
const base = protocol.model;
const SIZES = [640, 576, 512, 448, 416, 384, 320];
const t0 = performance.now();
const result = await runSearch({
  base, baseSha256: sha256Hex(protocol.bytes), calibration: protocol.calibration, heldOut: protocol.heldOut, threads: 1,
  populationSize: 48, generations: 40, seed: 0, front: Number(process.env.FRONT ?? 8), sizes: SIZES, precisions: ['fp32', 'fp16', 'int8'],
  reconstruct: true, cacheDir: '/work/sb-cache', statePath: process.env.STATE ?? '/work/sb-state.json',
  fitPredictor: async () => (await fitLocalPredictor(base, { calibration: protocol.calibration, threads: 1, sizes: [640, 320] })).predictor,
  onProgress: (p) => p.done === p.total && console.error(p.stage, p.done, p.message ?? ''),
});
console.log('search s', ((performance.now()-t0)/1000).toFixed(0));
for (const c of result.front) console.log(c.name, genomeLabel(c.genome, result.space), c.predictedMs?.toFixed(1), c.measuredMs?.toFixed?.(1), c.predictedLoss?.toFixed?.(3), JSON.stringify(Object.keys(c)));
