// The base model with every conv of a search space factorized, for the
// latency templates of search/shapes.ts.
import { applyFactorization } from '../factorize/rewrite.js';
import { findTargets } from '../factorize/targets.js';
import { removeDeadCode } from '../onnx/graph.js';
import type { Model } from '../onnx/ir.js';
import { rankFor } from './build.js';
import { SearchSpaceError } from './errors.js';
import { DEFAULT_MIN_CHANNELS, type SearchSpace } from './space.js';

/** The factorization method of a conv of the space (one per conv: shapeContext refuses a mixed one). */
export const methodOf = (space: SearchSpace, i: number) => space.convs[i].options.find((o) => o)?.method ?? 'spatial';

/**
 * The base with every conv of the space factorized, weights left at a
 * placeholder: only the structure matters here, and the SVDs of all convs
 * would cost most of the context's time. The pairs' geometry is
 * compress/factorize/spatial.ts' (1×k with the x stride and pads, then k×1
 * with the y ones) and lowrank.ts' (k×k with the conv's stride, pads and
 * dilation, then 1×1); the test holds genomeShapes to real builds.
 */
export function factorizedStructure(base: Model, space: SearchSpace): Model {
  const model = structuredClone(base);
  const targets = new Map(findTargets(base, 'lowrank', space.minChannels ?? DEFAULT_MIN_CHANNELS, undefined, { pointwise: true }).targets.map((t) => [t.name, t]));
  space.convs.forEach((c, i) => {
    const t = targets.get(c.name);
    if (!t) throw new SearchSpaceError(`conv ${c.name} of the search space is not a factorizable conv of this model: the space was made for another model`);
    const method = methodOf(space, i);
    const r = rankFor(method, t.cout, t.cin, t.k, 0.25);
    const [top, left, bottom, right] = t.pads;
    const w = (n: number) => new Float32Array(n).fill(0.01);
    applyFactorization(model.graph, t.name, {
      convs:
        method === 'spatial'
          ? [
              { dims: [r, t.cin, 1, t.k], weight: w(r * t.cin * t.k), strides: [1, t.strides[1]], pads: [0, left, 0, right], dilations: [1, 1], group: 1 },
              { dims: [t.cout, r, t.k, 1], weight: w(t.cout * r * t.k), bias: t.bias, strides: [t.strides[0], 1], pads: [top, 0, bottom, 0], dilations: [1, 1], group: 1 },
            ]
          : [
              { dims: [r, t.cin, t.k, t.k], weight: w(r * t.cin * t.k * t.k), strides: t.strides, pads: t.pads, dilations: t.dilations, group: 1 },
              { dims: [t.cout, r, 1, 1], weight: w(t.cout * r), bias: t.bias, strides: [1, 1], pads: [0, 0, 0, 0], dilations: [1, 1], group: 1 },
            ],
    });
  });
  removeDeadCode(model.graph);
  return model;
}
