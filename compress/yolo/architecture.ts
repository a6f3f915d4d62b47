// YOLOv8 layer tables (yolov8.yaml, yolov8-p2.yaml, yolov8-p6.yaml) and their
// resolution into concrete channel and repeat counts, mirroring ultralytics'
// parse_model so that parameter counts match the published fused models.

export type Yolov8Scale = 'n' | 's' | 'm' | 'l' | 'x';
export type Yolov8Head = 'p3-p5' | 'p2' | 'p6';

export const YOLOV8_SCALES: readonly Yolov8Scale[] = ['n', 's', 'm', 'l', 'x'];
export const YOLOV8_HEADS: readonly Yolov8Head[] = ['p3-p5', 'p2', 'p6'];

interface ScaleFactors {
  depth: number;
  width: number;
  maxChannels: number;
}

const SCALES: Record<Yolov8Scale, ScaleFactors> = {
  n: { depth: 0.33, width: 0.25, maxChannels: 1024 },
  s: { depth: 0.33, width: 0.5, maxChannels: 1024 },
  m: { depth: 0.67, width: 0.75, maxChannels: 768 },
  l: { depth: 1.0, width: 1.0, maxChannels: 512 },
  x: { depth: 1.0, width: 1.25, maxChannels: 512 },
};

/** One yaml row: [from, repeats, module, args]; -1 is the previous layer. */
type Row =
  | { from: -1; repeats: 1; module: 'Conv'; out: number; k: number; s: number }
  | { from: -1; repeats: number; module: 'C2f' | 'C2'; out: number; shortcut: boolean }
  | { from: -1; repeats: 1; module: 'SPPF'; out: number; k: number }
  | { from: -1; repeats: 1; module: 'Upsample' }
  | { from: [-1, number]; repeats: 1; module: 'Concat' }
  | { from: number[]; repeats: 1; module: 'Detect' };

const conv = (out: number): Row => ({ from: -1, repeats: 1, module: 'Conv', out, k: 3, s: 2 });
const c2f = (repeats: number, out: number, shortcut: boolean): Row => ({ from: -1, repeats, module: 'C2f', out, shortcut });
const c2 = (repeats: number, out: number): Row => ({ from: -1, repeats, module: 'C2', out, shortcut: false });
const sppf = (out: number): Row => ({ from: -1, repeats: 1, module: 'SPPF', out, k: 5 });
const up: Row = { from: -1, repeats: 1, module: 'Upsample' };
const cat = (other: number): Row => ({ from: [-1, other], repeats: 1, module: 'Concat' });
const detect = (...from: number[]): Row => ({ from, repeats: 1, module: 'Detect' });

const BACKBONE_P5: Row[] = [
  conv(64), conv(128), c2f(3, 128, true), conv(256), c2f(6, 256, true),
  conv(512), c2f(6, 512, true), conv(1024), c2f(3, 1024, true), sppf(1024),
];

const TABLES: Record<Yolov8Head, Row[]> = {
  'p3-p5': [
    ...BACKBONE_P5,
    up, cat(6), c2f(3, 512, false),
    up, cat(4), c2f(3, 256, false),
    conv(256), cat(12), c2f(3, 512, false),
    conv(512), cat(9), c2f(3, 1024, false),
    detect(15, 18, 21),
  ],
  p2: [
    ...BACKBONE_P5,
    up, cat(6), c2f(3, 512, false),
    up, cat(4), c2f(3, 256, false),
    up, cat(2), c2f(3, 128, false),
    conv(128), cat(15), c2f(3, 256, false),
    conv(256), cat(12), c2f(3, 512, false),
    conv(512), cat(9), c2f(3, 1024, false),
    detect(18, 21, 24, 27),
  ],
  p6: [
    conv(64), conv(128), c2f(3, 128, true), conv(256), c2f(6, 256, true),
    conv(512), c2f(6, 512, true), conv(768), c2f(3, 768, true),
    conv(1024), c2f(3, 1024, true), sppf(1024),
    up, cat(8), c2(3, 768),
    up, cat(6), c2(3, 512),
    up, cat(4), c2(3, 256),
    conv(256), cat(17), c2(3, 512),
    conv(512), cat(14), c2(3, 768),
    conv(768), cat(11), c2(3, 1024),
    detect(20, 23, 26, 29),
  ],
};

/** A layer with every count resolved for one scale; `inputs` are layer indices. */
export type Layer =
  | { index: number; module: 'Conv'; inputs: [number]; c1: number; c2: number; k: number; s: number }
  | { index: number; module: 'C2f' | 'C2'; inputs: [number]; c1: number; c2: number; repeats: number; shortcut: boolean }
  | { index: number; module: 'SPPF'; inputs: [number]; c1: number; c2: number; k: number }
  | { index: number; module: 'Upsample'; inputs: [number]; c2: number }
  | { index: number; module: 'Concat'; inputs: number[]; c2: number }
  | { index: number; module: 'Detect'; inputs: number[]; channels: number[]; strides: number[] };

export interface Architecture {
  scale: Yolov8Scale;
  head: Yolov8Head;
  layers: Layer[];
  /** Detect strides, smallest first: [8,16,32], [4,8,16,32] or [8,16,32,64]. */
  strides: number[];
}

/** ultralytics make_divisible with divisor 8. */
function makeDivisible(x: number): number {
  return Math.ceil(x / 8) * 8;
}

export function resolveArchitecture(scale: Yolov8Scale, head: Yolov8Head): Architecture {
  const f = SCALES[scale];
  const width = (c: number) => makeDivisible(Math.min(c, f.maxChannels) * f.width);
  const depth = (n: number) => (n > 1 ? Math.max(Math.round(n * f.depth), 1) : n);
  const channels: number[] = [];
  // Stride of each layer's output relative to the input image.
  const strideOf: number[] = [];
  const layers: Layer[] = [];
  TABLES[head].forEach((row, index) => {
    const prev = index - 1;
    const c1 = channels[prev] ?? 3;
    const s1 = strideOf[prev] ?? 1;
    switch (row.module) {
      case 'Conv':
        layers.push({ index, module: 'Conv', inputs: [prev], c1, c2: width(row.out), k: row.k, s: row.s });
        strideOf[index] = s1 * row.s;
        break;
      case 'C2f':
      case 'C2':
        layers.push({ index, module: row.module, inputs: [prev], c1, c2: width(row.out), repeats: depth(row.repeats), shortcut: row.shortcut });
        strideOf[index] = s1;
        break;
      case 'SPPF':
        layers.push({ index, module: 'SPPF', inputs: [prev], c1, c2: width(row.out), k: row.k });
        strideOf[index] = s1;
        break;
      case 'Upsample':
        layers.push({ index, module: 'Upsample', inputs: [prev], c2: c1 });
        strideOf[index] = s1 / 2;
        break;
      case 'Concat': {
        const inputs = [prev, row.from[1]];
        layers.push({ index, module: 'Concat', inputs, c2: inputs.reduce((sum, i) => sum + channels[i], 0) });
        strideOf[index] = s1;
        break;
      }
      case 'Detect':
        layers.push({ index, module: 'Detect', inputs: row.from, channels: row.from.map((i) => channels[i]), strides: row.from.map((i) => strideOf[i]) });
        strideOf[index] = s1;
        break;
    }
    const last = layers[layers.length - 1];
    channels[index] = last.module === 'Detect' ? 0 : last.c2;
  });
  const det = layers[layers.length - 1];
  if (det.module !== 'Detect') throw new Error('yolov8 table must end with Detect');
  return { scale, head, layers, strides: det.strides };
}
