// What genomeShapes saves the search: the predictor's node shapes of a
// genome's candidate computed from templates, against building the pruned
// candidate (pruneModel with explicit removals, no recovery) and calling
// nodeShapes, interleaved genome by genome on yolov8n at 640 px. The two are
// checked equal on every genome measured. One command:
//   nice -n 19 npx tsc -p tsconfig.build.json && node dist/bench/search-shapes.bench.js
import { existsSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import path from 'node:path';
import { dequantizeModel } from '../compress/onnx/dequantize.js';
import type { Model } from '../compress/onnx/ir.js';
import { readModel } from '../compress/onnx/read.js';
import { nodeShapes, type NodeShape } from '../compress/latency/features.js';
import { pruneModel } from '../compress/prune/prune.js';
import { mulberry32 } from '../compress/random.js';
import { genomeProblemParts } from '../compress/search/genome.js';
import { searchSpace } from '../compress/search/space.js';
import { genomeShapes, shapeContext } from '../compress/search/shapes.js';
import { buildYolov8 } from '../compress/yolo/builder.js';
import { syntheticCalibration } from '../controller/catalog/ladder.js';
import { fixturesDir, median, writeReport } from './common.js';

const load = () => loadavg().map((x) => x.toFixed(1)).join(' ');
const line = (s: NodeShape) => `${s.node} ${s.kinds[0]} ${s.x.join(',')}`;

async function main(): Promise<void> {
  const file = path.join(fixturesDir, 'models', 'yolov8n_int8_qdq.onnx');
  const [label, base]: [string, Model] = existsSync(file)
    ? ['yolov8n fp32 (dequantized QDQ fixture), 640 px', dequantizeModel(readModel(readFileSync(file))).model]
    : ['yolov8n (builder, seeded weights), 640 px', buildYolov8({ scale: 'n', imgsz: 640 })];
  const space = searchSpace(base, { sizes: [640, 512, 416, 320], precisions: ['fp32', 'fp16', 'int8'] });
  let t = performance.now();
  const ctx = await shapeContext(base, space, async (size) => syntheticCalibration(size, 2));
  const contextS = (performance.now() - t) / 1000;
  const ops = genomeProblemParts(space);
  const rng = mulberry32(1);
  // Interleaved: template shapes, then build + nodeShapes, genome by genome (fp32 at 640: prune genes only).
  const fast: number[] = [], slow: number[] = [];
  for (let i = 0; i < 12; i++) {
    const g = { ...ops.random(rng), size: 640, precision: 'fp32' as const, factor: space.convs.map(() => 0) };
    t = performance.now();
    const a = genomeShapes(ctx, g);
    fast.push(performance.now() - t);
    t = performance.now();
    const removals = space.groups.map((grp, k) => grp.removals[g.prune[k]]);
    const b = nodeShapes((await pruneModel(base, { method: 'l1', removals })).model);
    slow.push(performance.now() - t);
    if (a.map(line).join('\n') !== b.map(line).join('\n')) throw new Error(`genome ${i}: genomeShapes differs from nodeShapes of the build`);
  }
  // Warm throughput over the whole space (every precision, size, factorization).
  const draws = Array.from({ length: 3000 }, () => ops.random(rng));
  for (const g of draws.slice(0, 300)) genomeShapes(ctx, g);
  t = performance.now();
  const cpu0 = process.cpuUsage();
  for (const g of draws) genomeShapes(ctx, g);
  const perGenome = (performance.now() - t) / draws.length;
  const cpu = process.cpuUsage(cpu0);
  const cpuPerGenome = (cpu.user + cpu.system) / 1000 / draws.length;
  const report = [
    `search shapes: ${label}; ${space.groups.length} prune groups, ${space.convs.length} factorizable convs; load average ${load()}`,
    `shape context (3 precisions × plain/factorized templates): ${contextS.toFixed(1)} s, once per search`,
    `fp32 prune-only genomes, interleaved, median of 12 (all 12 equal node for node):`,
    `  pruneModel (explicit removals, no recovery) + nodeShapes: ${median(slow).toFixed(1)} ms`,
    `  genomeShapes (first calls, cold):                         ${median(fast).toFixed(3)} ms (${(median(slow) / median(fast)).toFixed(0)}× less)`,
    `genomeShapes warm, 3000 random genomes of the whole space: ${perGenome.toFixed(3)} ms wall, ${cpuPerGenome.toFixed(3)} ms CPU per genome (wall includes waiting for the shared cores)`,
  ].join('\n');
  console.log(report);
  console.log(`report: ${writeReport('search-shapes.txt', report + '\n')}`);
}

await main();
