// Node and initializer bookkeeping with the naming scheme of a torch ONNX
// export: node `/model.2/cv1/conv/Conv`, value `<node>_output_0`, parameter
// `model.2.cv1.conv.weight`, repeated ops in a scope suffixed `_1`, `_2`...

import { floatTensor, int64Tensor, type AttributeValue, type Node, type Tensor } from '../onnx/ir.js';
import type { WeightSource } from './weights.js';

/** Where a module sits: its node-name path and its parameter prefix. */
export interface Scope {
  path: string;
  param: string;
}

export const ROOT: Scope = { path: '', param: 'model' };

/**
 * A child module. `pathSegment` differs from `name` inside ModuleLists of
 * Sequentials, e.g. Detect's `cv2.0/cv2.0.0` scope holds parameters `cv2.0.0`.
 */
export function child(scope: Scope, name: string, pathSegment = name): Scope {
  return { path: `${scope.path}/${pathSegment}`, param: `${scope.param}.${name}` };
}

type AttrInit = number | number[] | string;

function toAttribute(value: AttrInit): AttributeValue {
  if (typeof value === 'string') return { type: 'string', value };
  if (Array.isArray(value)) return { type: 'ints', value };
  return { type: 'int', value };
}

export class GraphBuilder {
  readonly nodes: Node[] = [];
  readonly initializers = new Map<string, Tensor>();
  private readonly used = new Map<string, number>();

  constructor(readonly weights: WeightSource) {}

  /** `/scope/Op`, then `/scope/Op_1`, ... as torch names repeated ops. */
  private uniqueName(path: string, base: string): string {
    const key = `${path}/${base}`;
    const n = this.used.get(key) ?? 0;
    this.used.set(key, n + 1);
    return n === 0 ? key : `${key}_${n}`;
  }

  /**
   * Adds one node and returns its output names: `<node>_output_<i>` for a
   * count, or the given names (the graph output keeps its public name).
   */
  op(path: string, opType: string, inputs: string[], attrs: Record<string, AttrInit | AttributeValue> = {}, outputs: number | string[] = 1): string[] {
    const name = this.uniqueName(path, opType);
    const outs = typeof outputs === 'number' ? Array.from({ length: outputs }, (_, i) => `${name}_output_${i}`) : outputs;
    const attributes = new Map<string, AttributeValue>();
    for (const [k, v] of Object.entries(attrs)) attributes.set(k, typeof v === 'object' && !Array.isArray(v) ? v : toAttribute(v));
    this.nodes.push({ name, opType, domain: '', inputs, outputs: outs, attributes });
    return outs;
  }

  /** A constant folded into an initializer, named like the exporter's `/scope/Constant_output_0`. */
  private constant(path: string, make: (name: string) => Tensor): string {
    const name = `${this.uniqueName(path, 'Constant')}_output_0`;
    this.initializers.set(name, make(name));
    return name;
  }

  int64Const(path: string, values: readonly number[]): string {
    return this.constant(path, (name) => int64Tensor(name, values));
  }

  floatConst(path: string, dims: number[], data: Float32Array): string {
    return this.constant(path, (name) => floatTensor(name, dims, data));
  }

  param(name: string, dims: number[], data: Float32Array): string {
    if (this.initializers.has(name)) throw new Error(`duplicate parameter ${name}`);
    this.initializers.set(name, floatTensor(name, dims, data));
    return name;
  }

  /** A bare Conv2d (nn.Conv2d): scope `.../cv2.0.2/Conv`, parameters `<param>.weight/.bias`. */
  conv2d(scope: Scope, x: string, c1: number, c2: number, k: number, s: number, opts: { bias?: Float32Array; gain: number }): string {
    const w = this.param(`${scope.param}.weight`, [c2, c1, k, k], this.weights.convWeight(c2, c1, k, opts.gain));
    const inputs = [x, w];
    if (opts.bias) inputs.push(this.param(`${scope.param}.bias`, [c2], opts.bias));
    const p = Math.floor(k / 2);
    return this.op(scope.path, 'Conv', inputs, {
      dilations: [1, 1],
      group: 1,
      kernel_shape: [k, k],
      pads: [p, p, p, p],
      strides: [s, s],
    })[0];
  }

  /** ultralytics Conv (Conv2d + BatchNorm fused into the bias, then SiLU as Sigmoid·x). */
  convSilu(scope: Scope, x: string, c1: number, c2: number, k: number, s = 1): string {
    const y = this.conv2d(child(scope, 'conv'), x, c1, c2, k, s, { bias: this.weights.bias(c2), gain: Math.SQRT2 });
    const act = `${scope.path}/act`;
    const sig = this.op(act, 'Sigmoid', [y])[0];
    return this.op(act, 'Mul', [y, sig])[0];
  }
}
