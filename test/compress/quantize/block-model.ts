// Small models for the integer-kernel tests: a builder-made block whose every
// integer kernel runs once, so its error can be followed by hand, and the
// synthetic images they are calibrated on.
import type { CalibrationSet } from '../../../compress/calibration.js';
import type { RuntimeOps } from '../../../compress/onnx/info.js';
import { DataType, type Model } from '../../../compress/onnx/ir.js';
import { toFloat32 } from '../../../compress/onnx/tensor.js';
import { child, GraphBuilder, ROOT } from '../../../compress/yolo/graph-builder.js';
import { WeightSource } from '../../../compress/yolo/weights.js';

/** A smooth image in [0, 1] with a bright square, NCHW. */
export function image(size: number, k = 0): Float32Array {
  const t = new Float32Array(3 * size * size);
  for (let c = 0; c < 3; c++) {
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const inSquare = Math.abs(x - size / 3 - 3 * k) < size / 6 && Math.abs(y - size / 2) < size / 5;
        t[(c * size + y) * size + x] = inSquare ? 0.9 : ((x + y * (c + 1) + 7 * k) % size) / size;
      }
    }
  }
  return t;
}

export function calibrationOf(size: number, count: number): CalibrationSet {
  const inputs = Array.from({ length: count }, (_, k) => image(size, k));
  return { files: inputs.map((_, i) => `synthetic-${i}`), inputs, size };
}

/** Sum of the counts of op keys matching `re` in one precision of a runtime report. */
export function ran(ops: RuntimeOps, precision: keyof RuntimeOps['byPrecision'], re: RegExp): number {
  return Object.entries(ops.byPrecision[precision]).filter(([op]) => re.test(op)).reduce((n, [, c]) => n + c, 0);
}

/**
 * Conv+SiLU → Split → Add → Concat → MaxPool → Resize → a read-out 1x1 conv,
 * from the YOLO builder's parts, so every integer kernel but one conv runs
 * once and the error can be followed by hand.
 */
export function blockModel(size: number, head: 'conv' | 'sigmoid' = 'conv'): { model: Model; names: Record<'x' | 'y' | 'sig' | 's' | 'a' | 'c' | 'm' | 'r', string>; w: Float32Array; v: Float32Array; logits: string; out: string } {
  const b = new GraphBuilder(new WeightSource(11));
  const x = 'images';
  const stem = child(ROOT, '0', 'model.0');
  const s = b.convSilu(stem, x, 3, 8, 3, 1);
  const y = '/model.0/conv/Conv_output_0';
  const sig = '/model.0/act/Sigmoid_output_0';
  const [s1, s2] = b.op('/model.1', 'Split', [s, b.int64Const('/model.1', [4, 4])], { axis: 1 }, 2);
  const a = b.op('/model.1', 'Add', [s1, s2])[0];
  const c = b.op('/model.1', 'Concat', [a, s1], { axis: 1 })[0];
  const m = b.op('/model.2', 'MaxPool', [c], { ceil_mode: 0, dilations: [1, 1], kernel_shape: [5, 5], pads: [2, 2, 2, 2], strides: [1, 1] })[0];
  const r = b.op('/model.3', 'Resize', [m, '', b.floatConst('/model.3', [4], Float32Array.of(1, 1, 2, 2))], {
    coordinate_transformation_mode: 'asymmetric',
    cubic_coeff_a: { type: 'float', value: -0.75 },
    mode: 'nearest',
    nearest_mode: 'floor',
  })[0];
  const logits = b.conv2d(child(ROOT, '4', 'model.4'), r, 8, 2, 1, 1, { bias: Float32Array.of(0.1, -0.1), gain: 1 });
  // 'sigmoid': the read-out is a class-logit conv (only a Sigmoid reads it), as in the Detect head
  const out = head === 'sigmoid' ? b.op('/model.5', 'Sigmoid', [logits])[0] : logits;
  const model = graphModel(b, size, out, [1, 2, 2 * size, 2 * size]);
  const w = toFloat32(b.initializers.get('model.0.conv.weight')!);
  const v = toFloat32(b.initializers.get('model.4.weight')!);
  return { model, names: { x, y, sig, s, a, c, m, r }, w, v, logits, out };
}

export function graphModel(b: GraphBuilder, size: number, out: string, outShape: number[]): Model {
  return {
    irVersion: 8,
    opsetImports: [{ domain: '', version: 17 }],
    producerName: 'test',
    producerVersion: '',
    domain: '',
    modelVersion: 1,
    docString: '',
    metadata: new Map(),
    graph: {
      name: 'g',
      nodes: b.nodes,
      inputs: [{ name: 'images', elemType: DataType.FLOAT, shape: [1, 3, size, size] }],
      outputs: [{ name: out, elemType: DataType.FLOAT, shape: outShape }],
      valueInfo: [],
      initializers: b.initializers,
    },
  };
}

/** Largest L1 norm of a row of a [rows, ...] weight. */
export function maxRowL1(w: Float32Array, rows: number): number {
  const inner = w.length / rows;
  let best = 0;
  for (let i = 0; i < rows; i++) {
    let sum = 0;
    for (let j = i * inner; j < (i + 1) * inner; j++) sum += Math.abs(w[j]);
    best = Math.max(best, sum);
  }
  return best;
}
