// The Detect head as exported by ultralytics: per level box (cv2) and class
// (cv3) branches, flattened and concatenated over levels, then DFL decoding of
// the box distributions and dist2bbox against anchor points baked in as
// constants, with class scores through a sigmoid.

import { child, type GraphBuilder, type Scope } from './graph-builder.js';

/** Bins of the distribution focal loss box regression (ultralytics reg_max). */
export const REG_MAX = 16;

export interface DetectLevel {
  x: string;
  channels: number;
  stride: number;
}

/** Box and class branch widths: c2 = max(16, ch0/4, 4·reg_max), c3 = max(ch0, min(nc, 100)). */
export function detectWidths(ch0: number, nc: number): { box: number; cls: number } {
  return { box: Math.max(16, Math.floor(ch0 / 4), REG_MAX * 4), cls: Math.max(ch0, Math.min(nc, 100)) };
}

/**
 * ultralytics make_anchors (offset 0.5), transposed as the export bakes them:
 * anchor points [1, 2, N] in grid cells (x row, then y row) and strides [1, N].
 */
export function anchorGrid(imgsz: number, strides: readonly number[]): { points: Float32Array; strides: Float32Array; count: number } {
  const sizes = strides.map((s) => imgsz / s);
  const count = sizes.reduce((sum, n) => sum + n * n, 0);
  const points = new Float32Array(2 * count);
  const perAnchor = new Float32Array(count);
  let i = 0;
  strides.forEach((stride, level) => {
    const n = sizes[level];
    for (let y = 0; y < n; y++) {
      for (let x = 0; x < n; x++, i++) {
        points[i] = x + 0.5;
        points[count + i] = y + 0.5;
        perAnchor[i] = stride;
      }
    }
  });
  return { points, strides: perAnchor, count };
}

/**
 * Output biases as ultralytics' Detect.bias_init sets them before training:
 * box 1.0, class log(5 / nc / (640 / stride)²). The class prior keeps scores
 * near zero as in a trained model, so a confidence threshold leaves few
 * candidates and post-processing costs what it costs in deployment.
 */
function outputBias(kind: 'cv2' | 'cv3', out: number, stride: number): Float32Array {
  return new Float32Array(out).fill(kind === 'cv2' ? 1 : Math.log(5 / out / (640 / stride) ** 2));
}

function branch(b: GraphBuilder, det: Scope, name: 'cv2' | 'cv3', level: number, lv: DetectLevel, hidden: number, out: number): string {
  const seq = child(det, `${name}.${level}`);
  const at = (i: number) => child(seq, String(i), `${name}.${level}.${i}`);
  const h0 = b.convSilu(at(0), lv.x, lv.channels, hidden, 3);
  const h1 = b.convSilu(at(1), h0, hidden, hidden, 3);
  return b.conv2d(at(2), h1, hidden, out, 1, 1, { bias: outputBias(name, out, lv.stride), gain: 1 });
}

/** Builds the head; its last node writes `outputName` with shape [1, 4 + nc, N]. */
export function detectHead(b: GraphBuilder, det: Scope, levels: DetectLevel[], nc: number, imgsz: number, outputName: string): string {
  const widths = detectWidths(levels[0].channels, nc);
  const no = REG_MAX * 4 + nc;
  const flat: string[] = [];
  const flatShape = b.int64Const(det.path, [1, no, -1]);
  levels.forEach((lv, i) => {
    const box = branch(b, det, 'cv2', i, lv, widths.box, REG_MAX * 4);
    const cls = branch(b, det, 'cv3', i, lv, widths.cls, nc);
    const cat = b.op(det.path, 'Concat', [box, cls], { axis: 1 })[0];
    flat.push(b.op(det.path, 'Reshape', [cat, flatShape])[0]);
  });
  const xCat = b.op(det.path, 'Concat', flat, { axis: 2 })[0];
  const [boxDist, clsLogits] = b.op(det.path, 'Split', [xCat, b.int64Const(det.path, [REG_MAX * 4, nc])], { axis: 1 }, 2);

  const grid = anchorGrid(imgsz, levels.map((l) => l.stride));
  const dist = dfl(b, child(det, 'dfl'), boxDist, grid.count);

  // dist2bbox(xywh): lt, rb = chunk(2); x1y1 = a - lt; x2y2 = a + rb.
  const one = (v: number) => b.int64Const(det.path, [v]);
  const axis = one(1);
  const lt = b.op(det.path, 'Slice', [dist, one(0), one(2), axis])[0];
  const rb = b.op(det.path, 'Slice', [dist, one(2), one(4), axis])[0];
  const anchors = b.floatConst(det.path, [1, 2, grid.count], grid.points);
  const x1y1 = b.op(det.path, 'Sub', [anchors, lt])[0];
  const x2y2 = b.op(det.path, 'Add', [anchors, rb])[0];
  const sum = b.op(det.path, 'Add', [x1y1, x2y2])[0];
  const wh = b.op(det.path, 'Sub', [x2y2, x1y1])[0];
  const cxy = b.op(det.path, 'Div', [sum, b.floatConst(det.path, [], Float32Array.from([2]))])[0];
  const xywh = b.op(det.path, 'Concat', [cxy, wh], { axis: 1 })[0];
  const strides = b.floatConst(det.path, [1, grid.count], grid.strides);
  const boxes = b.op(det.path, 'Mul', [xywh, strides])[0];
  const scores = b.op(det.path, 'Sigmoid', [clsLogits])[0];
  return b.op(det.path, 'Concat', [boxes, scores], { axis: 1 }, [outputName])[0];
}

/** DFL: softmax over the 16 bins of each side, then their expectation via a fixed 1x1 conv of arange(16). */
function dfl(b: GraphBuilder, scope: Scope, boxDist: string, count: number): string {
  const bins = b.op(scope.path, 'Reshape', [boxDist, b.int64Const(scope.path, [1, 4, REG_MAX, count])])[0];
  const t = b.op(scope.path, 'Transpose', [bins], { perm: [0, 2, 1, 3] })[0];
  const p = b.op(scope.path, 'Softmax', [t], { axis: 1 })[0];
  const conv = child(scope, 'conv');
  const arange = Float32Array.from({ length: REG_MAX }, (_, i) => i);
  const w = b.param(`${conv.param}.weight`, [1, REG_MAX, 1, 1], arange);
  const e = b.op(conv.path, 'Conv', [p, w], { dilations: [1, 1], group: 1, kernel_shape: [1, 1], pads: [0, 0, 0, 0], strides: [1, 1] })[0];
  return b.op(scope.path, 'Reshape', [e, b.int64Const(scope.path, [1, 4, count])])[0];
}
