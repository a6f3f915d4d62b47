// Raising a model's default-domain opset to 13, where DequantizeLinear takes
// a per-channel `axis`. Only the ops whose signature changed between 11 and 13
// in the ways YOLO exports use are rewritten; anything else that changed
// meaning is refused rather than silently reinterpreted.
import { int64Tensor, intAttr, intsAttr, isDefaultDomain, type Model } from '../onnx/ir.js';
import { uniqueName } from '../onnx/graph.js';
import { inferShapes } from '../onnx/shapes.js';
import { EdgefitError } from '../../protocol/errors.js';

/** Attributes that became inputs at opset 13, per op. */
const ATTRIBUTE_TO_INPUT: Record<string, string> = { Split: 'split', Squeeze: 'axes', Unsqueeze: 'axes', ReduceSum: 'axes' };

/** Mutates `model` so its default-domain opset is at least 13. */
export function upgradeToOpset13(model: Model): void {
  const imp = model.opsetImports.find((o) => isDefaultDomain(o.domain));
  if (!imp) throw new EdgefitError('E_OPSET_UPGRADE', { reason: 'the model imports no default-domain opset' });
  if (imp.version >= 13) return;
  const g = model.graph;
  const types = inferShapes(model);
  for (const n of g.nodes) {
    if (n.domain !== '' && n.domain !== 'ai.onnx') continue;
    const attribute = ATTRIBUTE_TO_INPUT[n.opType];
    if (attribute && n.attributes.has(attribute)) {
      const values = intsAttr(n, attribute, []);
      n.attributes.delete(attribute);
      const name = uniqueName(g, `${n.name || n.opType}_${attribute}`);
      g.initializers.set(name, int64Tensor(name, values));
      n.inputs = [n.inputs[0], name];
    }
    if (n.opType === 'Softmax' || n.opType === 'LogSoftmax' || n.opType === 'Hardmax') {
      // Before 13 these flatten to 2-D at `axis`; from 13 they act on one axis. Equal when the axis is the last.
      const rank = types.get(n.inputs[0])?.shape?.length;
      const axis = intAttr(n, 'axis', 1);
      if (rank === undefined || (axis !== -1 && axis !== rank - 1)) {
        throw new EdgefitError('E_OPSET_UPGRADE', { reason: `${n.opType} '${n.name}' at opset ${imp.version} normalizes over axes ${axis}.. of a rank-${rank ?? '?'} tensor; only a last-axis ${n.opType} keeps its meaning at opset 13` });
      }
    }
  }
  imp.version = 13;
  model.irVersion = Math.max(model.irVersion, 7);
}
