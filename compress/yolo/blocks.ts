// The YOLOv8 backbone and neck modules, laid out as `yolo export format=onnx`
// lays out a fused model: C2f and C2 in split form, SPPF with chained pools,
// Upsample as nearest Resize with a scales input.

import { child, type GraphBuilder, type Scope } from './graph-builder.js';

/** Bottleneck(c, c, e=1.0): two 3x3 Convs, plus the input when `shortcut`. */
function bottleneck(b: GraphBuilder, scope: Scope, x: string, c: number, shortcut: boolean): string {
  const h = b.convSilu(child(scope, 'cv1'), x, c, c, 3);
  const y = b.convSilu(child(scope, 'cv2'), h, c, c, 3);
  return shortcut ? b.op(scope.path, 'Add', [x, y])[0] : y;
}

function splitHalves(b: GraphBuilder, scope: Scope, x: string, c: number): [string, string] {
  const sizes = b.int64Const(scope.path, [c, c]);
  const [first, second] = b.op(scope.path, 'Split', [x, sizes], { axis: 1 }, 2);
  return [first, second];
}

/** C2f: cv1 → Split → bottlenecks chained on the second half → Concat of all → cv2. */
export function c2f(b: GraphBuilder, scope: Scope, x: string, c1: number, c2: number, repeats: number, shortcut: boolean): string {
  const c = Math.floor(c2 * 0.5);
  const y = b.convSilu(child(scope, 'cv1'), x, c1, 2 * c, 1);
  const parts = splitHalves(b, scope, y, c);
  let last = parts[1];
  const all: string[] = [...parts];
  for (let i = 0; i < repeats; i++) {
    last = bottleneck(b, child(scope, `m.${i}`), last, c, shortcut);
    all.push(last);
  }
  const cat = b.op(scope.path, 'Concat', all, { axis: 1 })[0];
  return b.convSilu(child(scope, 'cv2'), cat, (2 + repeats) * c, c2, 1);
}

/** C2 (yolov8-p6 head): cv1 → Split → bottlenecks on the first half → Concat(m(a), b) → cv2. */
export function c2Block(b: GraphBuilder, scope: Scope, x: string, c1: number, c2: number, repeats: number, shortcut: boolean): string {
  const c = Math.floor(c2 * 0.5);
  const y = b.convSilu(child(scope, 'cv1'), x, c1, 2 * c, 1);
  const [first, second] = splitHalves(b, scope, y, c);
  const seq = child(scope, 'm');
  let h = first;
  for (let i = 0; i < repeats; i++) h = bottleneck(b, child(seq, String(i), `m.${i}`), h, c, shortcut);
  const cat = b.op(scope.path, 'Concat', [h, second], { axis: 1 })[0];
  return b.convSilu(child(scope, 'cv2'), cat, 2 * c, c2, 1);
}

/** SPPF: cv1 halves the channels, three chained k×k max pools, Concat, cv2. */
export function sppf(b: GraphBuilder, scope: Scope, x: string, c1: number, c2: number, k: number): string {
  const hidden = Math.floor(c1 / 2);
  const y = b.convSilu(child(scope, 'cv1'), x, c1, hidden, 1);
  const pools = [y];
  const pad = Math.floor(k / 2);
  // The exporter names the one MaxPool module's three calls m, m_1, m_2.
  for (const segment of ['m', 'm_1', 'm_2']) {
    const prev = pools[pools.length - 1];
    pools.push(b.op(`${scope.path}/${segment}`, 'MaxPool', [prev], {
      ceil_mode: 0,
      dilations: [1, 1],
      kernel_shape: [k, k],
      pads: [pad, pad, pad, pad],
      strides: [1, 1],
    })[0]);
  }
  const cat = b.op(scope.path, 'Concat', pools, { axis: 1 })[0];
  return b.convSilu(child(scope, 'cv2'), cat, 4 * hidden, c2, 1);
}

/** nn.Upsample(scale_factor=2, mode='nearest'), exported as Resize(x, roi='', scales). */
export function upsample(b: GraphBuilder, scope: Scope, x: string): string {
  const scales = b.floatConst(scope.path, [4], Float32Array.from([1, 1, 2, 2]));
  return b.op(scope.path, 'Resize', [x, '', scales], {
    coordinate_transformation_mode: 'asymmetric',
    cubic_coeff_a: { type: 'float', value: -0.75 },
    mode: 'nearest',
    nearest_mode: 'floor',
  })[0];
}

export function concat(b: GraphBuilder, scope: Scope, inputs: string[]): string {
  return b.op(scope.path, 'Concat', inputs, { axis: 1 })[0];
}
