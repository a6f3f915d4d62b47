import { describe, expect, it } from 'vitest';
import { buildYolov8 } from '../../../compress/yolo/builder.js';
import { nodeShapes, type NodeShape } from '../../../compress/latency/features.js';
import { syntheticCalibration } from '../../../controller/catalog/ladder.js';
import { mulberry32 } from '../../../compress/random.js';
import { searchSpace } from '../../../compress/search/space.js';
import { baseGenome, genomeProblemParts, type Genome } from '../../../compress/search/genome.js';
import { buildGenome, type BuildContext } from '../../../compress/search/build.js';
import { genomeShapes, shapeContext } from '../../../compress/search/shapes.js';

const base = buildYolov8({ scale: 'n', imgsz: 96 });
const calibration = async (size: number) => syntheticCalibration(size, 2);
const ctx: BuildContext = { baseSha256: 'b'.repeat(64), calibration, reconstruct: false };
const space = searchSpace(base, { sizes: [96, 64], precisions: ['fp32', 'fp16', 'int8'] });

const line = (s: NodeShape) => `${s.node} ${s.op} ${s.kinds.join(',')} [${s.x.join(', ')}]`;

describe('genomeShapes', () => {
  it('equals nodeShapes of the built candidate, node for node, for random genomes at every precision', async () => {
    const shapes = await shapeContext(base, space, calibration);
    const ops = genomeProblemParts(space);
    const rng = mulberry32(21);
    const genomes: Genome[] = [baseGenome(space)];
    for (let i = 0; i < 8; i++) genomes.push({ ...ops.random(rng), precision: space.precisions[i % 3] });
    for (const genome of genomes) {
      const built = nodeShapes(await buildGenome(base, space, genome, ctx));
      const predicted = genomeShapes(shapes, genome);
      expect(predicted.map(line), JSON.stringify(genome)).toEqual(built.map(line));
    }
    // the search's budget: well under a millisecond per genome
    const t0 = performance.now();
    for (let i = 0; i < 200; i++) genomeShapes(shapes, { ...ops.random(rng), precision: 'int8' });
    const ms = (performance.now() - t0) / 200;
    console.log(`genomeShapes: ${ms.toFixed(3)} ms per int8 genome`);
  });
});
