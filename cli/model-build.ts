import { statSync } from 'node:fs';
import { startBuildLineage } from '../compress/lineage.js';
import { buildYolov8, convParameterCount, maxStride, parseYolov8Name, yolov8Name } from '../compress/yolo/builder.js';
import { UsageError, intFlag, parse, printJson } from './args.js';
import { outputPath, writeModelOutput } from './files.js';

const COMMAND = 'model build';
const flags = {
  nc: { type: 'string' },
  imgsz: { type: 'string' },
  seed: { type: 'string' },
  out: { type: 'string', short: 'o' },
  json: { type: 'boolean' },
} as const;

/** `edgefit model build yolov8{n,s,m,l,x}[-p2|-p6] [--nc 80] [--imgsz 640] [--seed S] -o OUT [--json]` */
export async function run(argv: string[]): Promise<void> {
  const { values, positionals } = parse(COMMAND, argv, flags);
  if (positionals.length !== 1) throw new UsageError(`${COMMAND}: expected one model name (yolov8n, yolov8s-p2, yolov8x-p6...), got ${positionals.length}`);
  const arch = parseYolov8Name(positionals[0]);
  if (!arch) throw new UsageError(`${COMMAND}: unknown model '${positionals[0]}': expected yolov8{n,s,m,l,x} with an optional -p2 or -p6 suffix`);
  const nc = intFlag(COMMAND, 'nc', values.nc, 80, 1, 10000);
  const imgsz = intFlag(COMMAND, 'imgsz', values.imgsz, 640, 1, 8192);
  const stride = maxStride(arch.head);
  if (imgsz % stride !== 0) throw new UsageError(`${COMMAND}: --imgsz must be a multiple of ${stride} for ${positionals[0]}, got ${imgsz}`);
  const seed = intFlag(COMMAND, 'seed', values.seed, 0, 0, 0xffffffff);
  const out = outputPath(COMMAND, values.out);

  const model = buildYolov8({ ...arch, nc, imgsz, seed });
  startBuildLineage(model, { model: yolov8Name(arch.scale, arch.head), scale: arch.scale, head: arch.head, nc, imgsz, seed, synthetic: true });
  writeModelOutput(model, out);
  const output = model.graph.outputs[0].shape as number[];
  const summary = {
    model: yolov8Name(arch.scale, arch.head),
    path: out,
    params: convParameterCount(model.graph),
    nc,
    imgsz,
    seed,
    output,
    bytes: statSync(out).size,
    synthetic: true,
  };
  if (values.json) return printJson(summary);
  process.stdout.write(
    `${summary.model}: ${summary.params.toLocaleString('en-US')} params, input [1,3,${imgsz},${imgsz}], output [${output.join(',')}] (synthetic weights, seed ${seed})\n` +
      `wrote ${out}\n`,
  );
}
