// buildYolov8: a synthetic YOLOv8 detector in the layout of a fused
// `yolo export format=onnx` model, with seeded random weights. Real layer
// shapes and operator mix make it a faithful latency and compression subject;
// its metadata marks it synthetic because it detects nothing.

import { DataType, numel, type Graph, type Model } from '../onnx/ir.js';
import { resolveArchitecture, YOLOV8_HEADS, YOLOV8_SCALES, type Yolov8Head, type Yolov8Scale } from './architecture.js';
import { c2Block, c2f, concat, sppf, upsample } from './blocks.js';
import { detectHead } from './detect-head.js';
import { child, GraphBuilder, ROOT } from './graph-builder.js';
import { WeightSource } from './weights.js';

export interface Yolov8Options {
  scale: Yolov8Scale;
  head?: Yolov8Head;
  /** Number of classes, default 80. */
  nc?: number;
  /** Square input size, a multiple of the largest stride; default 640. */
  imgsz?: number;
  /** PRNG seed for the weights, default 0. */
  seed?: number;
}

/** ultralytics' default export opset at the time of the YOLOv8 releases. */
export const YOLOV8_OPSET = 17;
export const YOLOV8_IR_VERSION = 8;
const MAX_CLASSES = 10000;

/** The model's name as ultralytics writes it: yolov8n, yolov8s-p2, yolov8x-p6. */
export function yolov8Name(scale: Yolov8Scale, head: Yolov8Head = 'p3-p5'): string {
  return `yolov8${scale}${head === 'p3-p5' ? '' : `-${head}`}`;
}

/** Parses `yolov8{n,s,m,l,x}[-p2|-p6]`; undefined when the name is not one. */
export function parseYolov8Name(name: string): { scale: Yolov8Scale; head: Yolov8Head } | undefined {
  const m = /^yolov8([nsmlx])(?:-(p2|p6))?$/.exec(name);
  if (!m) return undefined;
  return { scale: m[1] as Yolov8Scale, head: (m[2] as Yolov8Head | undefined) ?? 'p3-p5' };
}

/** Largest Detect stride of a head: the input size must be a multiple of it. */
export function maxStride(head: Yolov8Head): number {
  return head === 'p6' ? 64 : 32;
}

function validate(opts: Yolov8Options): Required<Yolov8Options> {
  const head = opts.head ?? 'p3-p5';
  const nc = opts.nc ?? 80;
  const imgsz = opts.imgsz ?? 640;
  const seed = opts.seed ?? 0;
  if (!YOLOV8_SCALES.includes(opts.scale)) throw new RangeError(`yolov8: scale must be one of ${YOLOV8_SCALES.join(', ')}, got '${opts.scale}'`);
  if (!YOLOV8_HEADS.includes(head)) throw new RangeError(`yolov8: head must be one of ${YOLOV8_HEADS.join(', ')}, got '${head}'`);
  if (!Number.isInteger(nc) || nc < 1 || nc > MAX_CLASSES) throw new RangeError(`yolov8: nc must be an integer in [1, ${MAX_CLASSES}], got ${nc}`);
  const stride = maxStride(head);
  if (!Number.isInteger(imgsz) || imgsz < stride || imgsz % stride !== 0) {
    throw new RangeError(`yolov8: imgsz must be a positive multiple of ${stride} for head ${head}, got ${imgsz}`);
  }
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new RangeError(`yolov8: seed must be an integer in [0, 4294967295], got ${seed}`);
  return { scale: opts.scale, head, nc, imgsz, seed };
}

function metadata(o: Required<Yolov8Options>): Map<string, string> {
  const names = Array.from({ length: o.nc }, (_, i) => `${i}: 'class${i}'`).join(', ');
  return new Map([
    ['description', `edgefit synthetic ${yolov8Name(o.scale, o.head)} (seeded random weights: for latency and compression tests, not accuracy)`],
    ['author', 'edgefit'],
    ['license', 'AGPL-3.0'],
    ['stride', String(maxStride(o.head))],
    ['task', 'detect'],
    ['batch', '1'],
    ['imgsz', `[${o.imgsz}, ${o.imgsz}]`],
    ['names', `{${names}}`],
    ['channels', '3'],
    ['edgefit.synthetic', 'true'],
    ['edgefit.arch', yolov8Name(o.scale, o.head)],
    ['edgefit.seed', String(o.seed)],
  ]);
}

export function buildYolov8(options: Yolov8Options): Model {
  const o = validate(options);
  const arch = resolveArchitecture(o.scale, o.head);
  const b = new GraphBuilder(new WeightSource(o.seed));
  const outputs: string[] = [];
  const input = 'images';
  let anchorCount = 0;
  for (const layer of arch.layers) {
    const scope = child(ROOT, String(layer.index), `model.${layer.index}`);
    const x = (i = 0) => (layer.inputs[i] === -1 ? input : outputs[layer.inputs[i]]);
    switch (layer.module) {
      case 'Conv':
        outputs.push(b.convSilu(scope, x(), layer.c1, layer.c2, layer.k, layer.s));
        break;
      case 'C2f':
        outputs.push(c2f(b, scope, x(), layer.c1, layer.c2, layer.repeats, layer.shortcut));
        break;
      case 'C2':
        outputs.push(c2Block(b, scope, x(), layer.c1, layer.c2, layer.repeats, layer.shortcut));
        break;
      case 'SPPF':
        outputs.push(sppf(b, scope, x(), layer.c1, layer.c2, layer.k));
        break;
      case 'Upsample':
        outputs.push(upsample(b, scope, x()));
        break;
      case 'Concat':
        outputs.push(concat(b, scope, layer.inputs.map((_, i) => x(i))));
        break;
      case 'Detect': {
        const levels = layer.inputs.map((from, i) => ({ x: outputs[from], channels: layer.channels[i], stride: layer.strides[i] }));
        outputs.push(detectHead(b, scope, levels, o.nc, o.imgsz, 'output0'));
        anchorCount = layer.strides.reduce((sum, s) => sum + (o.imgsz / s) ** 2, 0);
        break;
      }
    }
  }
  const graph: Graph = {
    name: 'main_graph',
    nodes: b.nodes,
    inputs: [{ name: input, elemType: DataType.FLOAT, shape: [1, 3, o.imgsz, o.imgsz] }],
    outputs: [{ name: 'output0', elemType: DataType.FLOAT, shape: [1, 4 + o.nc, anchorCount] }],
    valueInfo: [],
    initializers: b.initializers,
  };
  return {
    irVersion: YOLOV8_IR_VERSION,
    opsetImports: [{ domain: '', version: YOLOV8_OPSET }],
    producerName: 'edgefit',
    producerVersion: '0.1.0',
    domain: '',
    modelVersion: 1,
    docString: '',
    metadata: metadata(o),
    graph,
  };
}

/** Elements of every Conv weight and bias initializer: ultralytics' fused parameter count. */
export function convParameterCount(graph: Graph): number {
  let total = 0;
  for (const node of graph.nodes) {
    if (node.opType !== 'Conv') continue;
    for (const name of node.inputs.slice(1)) {
      const t = graph.initializers.get(name);
      if (t) total += numel(t.dims);
    }
  }
  return total;
}
