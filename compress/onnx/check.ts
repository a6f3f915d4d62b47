// Structural check of a graph that compress/ produced, before anyone runs or
// ships it: every read has a source, the node list is in dependency order,
// no value is defined twice, and every Conv's output shape is fully known
// (the cost model and the next compression step both need those shapes).
import type { Model } from './ir.js';
import { nodeReads } from './graph.js';
import { inferShapes } from './shapes.js';
import { EdgefitError } from '../../protocol/errors.js';

export interface CheckResult {
  ok: boolean;
  problems: string[];
}

export function checkModel(model: Model): CheckResult {
  const g = model.graph;
  const problems: string[] = [];
  const defined = new Set<string>();
  const define = (name: string, by: string) => {
    if (defined.has(name)) problems.push(`value '${name}' is defined more than once (again by ${by})`);
    defined.add(name);
  };
  for (const i of g.inputs) define(i.name, 'a graph input');
  for (const name of g.initializers.keys()) if (!g.inputs.some((i) => i.name === name)) define(name, 'an initializer');
  const producedLater = new Set<string>();
  for (const n of g.nodes) for (const o of n.outputs) if (o) producedLater.add(o);
  for (const n of g.nodes) {
    const label = `${n.opType} '${n.name}'`;
    for (const r of nodeReads(n)) {
      if (defined.has(r)) continue;
      problems.push(producedLater.has(r) ? `${label} reads '${r}' before the node that produces it (not in topological order)` : `${label} reads '${r}', which nothing produces`);
    }
    for (const o of n.outputs) if (o) define(o, label);
  }
  for (const o of g.outputs) if (!defined.has(o.name)) problems.push(`graph output '${o.name}' is not produced`);
  const types = inferShapes(model);
  for (const n of g.nodes) {
    if (n.opType !== 'Conv') continue;
    const shape = types.get(n.outputs[0])?.shape;
    if (!shape || !shape.every((d) => typeof d === 'number')) {
      problems.push(`Conv '${n.name}' output '${n.outputs[0]}' has shape ${shape ? `[${shape.join(',')}]` : 'unknown'} after inference`);
    }
  }
  return { ok: problems.length === 0, problems };
}

/** Throws E_MODEL_CHECK listing the first problems when the model is not well formed. */
export function assertWellFormed(model: Model, what = 'model'): void {
  const { ok, problems } = checkModel(model);
  if (ok) return;
  const shown = problems.slice(0, 5).join('; ');
  throw new EdgefitError('E_MODEL_CHECK', { reason: `${what} is not well formed (${problems.length} problem${problems.length === 1 ? '' : 's'}): ${shown}` });
}
