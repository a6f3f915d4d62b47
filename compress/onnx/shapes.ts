// Static shape inference over the ops that Ultralytics YOLOv8/YOLO11 exports
// (float, QDQ, dynamic and QOperator int8) contain. Small integer tensors that
// feed shapes (Shape → Gather → Unsqueeze → Concat → Reshape) are folded on the
// way. An op it does not know leaves its outputs unknown; it never throws on a
// model, because callers (cost model, info) must work on any file.
import { DataType, type Graph, type Model, type Node } from './ir.js';
import { topologicalOrder } from './graph.js';
import { opsetVersion, shapeOps } from './shape-ops/index.js';
import { foldTensor, type Folded, type ValueType } from './shape-math.js';

export type { Folded, InferContext, ValueType } from './shape-math.js';
export { broadcast } from './shape-math.js';
export { opsetVersion } from './shape-ops/index.js';

export function inferShapes(model: Model): Map<string, ValueType> {
  return inferGraph(model.graph, opsetVersion(model, ''), new Map()).types;
}

/** Shapes plus folded constants; pass outer-scope types for subgraphs. */
export function inferGraph(g: Graph, opset: number, outer: Map<string, ValueType>): { types: Map<string, ValueType>; folded: Map<string, Folded> } {
  const types = new Map(outer);
  const folded = new Map<string, Folded>();
  for (const t of g.initializers.values()) {
    types.set(t.name, { elemType: t.dataType, shape: [...t.dims] });
    const f = foldTensor(t);
    if (f) folded.set(t.name, f);
  }
  for (const v of g.inputs) {
    if (v.shape && v.elemType !== DataType.UNDEFINED) types.set(v.name, { elemType: v.elemType, shape: [...v.shape] });
    folded.delete(v.name);
  }
  for (const node of orderOf(g)) {
    const rule = shapeOps.get(node.opType);
    if (!rule) continue;
    let outs: (ValueType | undefined)[] | undefined;
    try {
      outs = rule({ types, folded, opset, node });
    } catch {
      // A malformed attribute or an input combination the rule does not cover: leave unknown.
      outs = undefined;
    }
    if (!outs) continue;
    node.outputs.forEach((name, i) => {
      const t = outs![i];
      if (name && t) types.set(name, t);
    });
  }
  // Fill in what the file itself declares but inference could not derive.
  for (const v of [...g.valueInfo, ...g.outputs]) {
    if (!types.has(v.name) && v.shape && v.elemType !== DataType.UNDEFINED) types.set(v.name, { elemType: v.elemType, shape: [...v.shape] });
  }
  return { types, folded };
}

function orderOf(g: Graph): Node[] {
  try {
    return topologicalOrder(g);
  } catch {
    return g.nodes;
  }
}
