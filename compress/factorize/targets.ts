// Which convs of a model can be factorized, and why the others cannot.
import { intAttr, intsAttr, stringAttr, type Model, type Node } from '../onnx/ir.js';
import { constValue, producers } from '../onnx/graph.js';
import { inferShapes, type ValueType } from '../onnx/shapes.js';
import { DataType } from '../onnx/ir.js';
import { convFlops, type ConvTarget, type FactorMethod } from './layer.js';

export interface SkippedConv {
  name: string;
  reason: string;
}

export interface TargetSearch {
  targets: ConvTarget[];
  skipped: SkippedConv[];
}

function spatial(t: ValueType | undefined): [number, number] | undefined {
  const s = t?.shape;
  if (!s || s.length !== 4 || !s.every((d) => typeof d === 'number')) return undefined;
  return [s[2] as number, s[3] as number];
}

function describe(n: Node): string {
  return n.name || n.outputs[0];
}

/**
 * k×k convs (k > 1, group 1, float constant weights, explicit pads) whose
 * input and output channels are both at least `minChannels`. Spatial
 * factorization also needs dilation 1: its 1×k/k×1 split assumes adjacent taps.
 * With `pointwise` (low-rank only), 1×1 convs too: a rank-r pair is then an
 * r-channel bottleneck (the search's genes offer it).
 */
export function findTargets(model: Model, method: FactorMethod, minChannels: number, types: Map<string, ValueType> = inferShapes(model), o: { pointwise?: boolean } = {}): TargetSearch {
  const g = model.graph;
  const prod = producers(g);
  const targets: ConvTarget[] = [];
  const skipped: SkippedConv[] = [];
  for (const n of g.nodes) {
    if (n.opType !== 'Conv' || (n.domain !== '' && n.domain !== 'ai.onnx')) continue;
    const w = constValue(g, n.inputs[1], prod);
    const skip = (reason: string) => skipped.push({ name: describe(n), reason });
    if (!w || w.dataType !== DataType.FLOAT || w.dims.length !== 4) {
      skip('weight is not a constant float 4-D tensor');
      continue;
    }
    const [cout, cinPerGroup, kh, kw] = w.dims;
    const pointwise = o.pointwise === true && method === 'lowrank' && kh === 1 && kw === 1;
    if ((kh !== kw || kh < 2) && !pointwise) {
      if (kh !== 1 || kw !== 1) skip(`kernel ${kh}×${kw} is not square k×k with k > 1`);
      continue;
    }
    const group = intAttr(n, 'group', 1);
    if (group !== 1) {
      skip(`group ${group} (only group 1 convs are factorized)`);
      continue;
    }
    const autoPad = stringAttr(n, 'auto_pad', 'NOTSET');
    if (autoPad !== 'NOTSET') {
      skip(`auto_pad ${autoPad} (only explicit pads are handled)`);
      continue;
    }
    const dilations = intsAttr(n, 'dilations', [1, 1]);
    if (method === 'spatial' && (dilations[0] !== 1 || dilations[1] !== 1)) {
      skip(`dilation ${dilations.join('×')} (spatial factorization needs dilation 1)`);
      continue;
    }
    if (Math.min(cout, cinPerGroup) < minChannels) {
      skip(`${cinPerGroup}→${cout} channels, fewer than --min-channels ${minChannels}`);
      continue;
    }
    const b = n.inputs[2] ? constValue(g, n.inputs[2], prod) : undefined;
    if (n.inputs[2] && (!b || b.dataType !== DataType.FLOAT)) {
      skip('bias is not a constant float tensor');
      continue;
    }
    const inHW = spatial(types.get(n.inputs[0]));
    const outHW = spatial(types.get(n.outputs[0]));
    if (!inHW || !outHW) {
      skip('input or output shape is not known');
      continue;
    }
    const pads = intsAttr(n, 'pads', [0, 0, 0, 0]);
    const strides = intsAttr(n, 'strides', [1, 1]);
    targets.push({
      name: describe(n),
      input: n.inputs[0],
      weight: w.data as Float32Array,
      bias: b ? (b.data as Float32Array) : undefined,
      cout,
      cin: cinPerGroup,
      k: kh,
      strides: [strides[0], strides[1]],
      pads: [pads[0], pads[1], pads[2], pads[3]],
      dilations: [dilations[0], dilations[1]],
      inHW,
      outHW,
      flops: convFlops(outHW, cout, cinPerGroup, kh, kw),
    });
  }
  return { targets, skipped };
}
