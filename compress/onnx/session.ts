// onnxruntime-node sessions built from an in-memory Model, and runs that also
// return intermediate values (pruning importance, calibration ranges).
import ort from 'onnxruntime-node';
import { DataType, type Model, type ValueInfo } from './ir.js';
import { inferShapes } from './shapes.js';
import { removeDeadCode } from './graph.js';
import { writeModel } from './write.js';

export type Feeds = Record<string, ort.Tensor>;

export interface SessionOptions {
  /** onnxruntime graph optimization; 'all' by default, as deployments run. */
  optimization?: 'disabled' | 'basic' | 'extended' | 'all';
  intraOpThreads?: number;
}

export async function createSession(model: Model, options: SessionOptions = {}): Promise<ort.InferenceSession> {
  const bytes = writeModel(model);
  return ort.InferenceSession.create(bytes, {
    graphOptimizationLevel: options.optimization ?? 'all',
    ...(options.intraOpThreads ? { intraOpNumThreads: options.intraOpThreads } : {}),
  });
}

/** Runs the model once and returns all its outputs. */
export async function runModel(model: Model, feeds: Feeds, options?: SessionOptions): Promise<Record<string, ort.Tensor>> {
  const session = await createSession(model, options);
  try {
    return (await session.run(feeds)) as Record<string, ort.Tensor>;
  } finally {
    await session.release();
  }
}

/**
 * A copy of `model` whose graph also outputs `names` (intermediate values),
 * typed from shape inference. The element type must be known: onnxruntime
 * rejects untyped outputs.
 */
export function withExtraOutputs(model: Model, names: readonly string[]): Model {
  const types = inferShapes(model);
  const have = new Set(model.graph.outputs.map((o) => o.name));
  const produced = new Set<string>(model.graph.inputs.map((i) => i.name));
  for (const n of model.graph.nodes) for (const o of n.outputs) produced.add(o);
  for (const k of model.graph.initializers.keys()) produced.add(k);
  const extra: ValueInfo[] = [];
  for (const name of names) {
    if (have.has(name)) continue;
    if (!produced.has(name)) throw new Error(`no value named '${name}' in the model`);
    const t = types.get(name);
    if (!t || t.elemType === DataType.UNDEFINED) throw new Error(`the element type of '${name}' is unknown, so it cannot be made an output`);
    extra.push({ name, elemType: t.elemType, shape: null });
    have.add(name);
  }
  return { ...model, graph: { ...model.graph, outputs: [...model.graph.outputs, ...extra] } };
}

/**
 * A copy of `model` that computes only `names` (graph outputs or
 * intermediates): the nodes no name depends on are dropped, so reading an
 * early layer does not pay for the whole network.
 */
export function truncatedTo(model: Model, names: readonly string[]): Model {
  const wide = withExtraOutputs(model, names);
  const byName = new Map(wide.graph.outputs.map((o) => [o.name, o]));
  const graph = { ...wide.graph, nodes: [...wide.graph.nodes], initializers: new Map(wide.graph.initializers), valueInfo: [...wide.graph.valueInfo], outputs: [...new Set(names)].map((n) => byName.get(n)!) };
  removeDeadCode(graph);
  // models from IR < 4 list their initializers as inputs too: the dropped ones go from both
  graph.inputs = graph.inputs.filter((i) => !wide.graph.initializers.has(i.name) || graph.initializers.has(i.name));
  return { ...wide, graph };
}

/** Runs the model and returns the named values (graph outputs or intermediates). */
export async function runWithIntermediates(
  model: Model,
  feeds: Feeds,
  names: readonly string[],
  options?: SessionOptions,
): Promise<Record<string, ort.Tensor>> {
  const session = await createSession(withExtraOutputs(model, names), options);
  try {
    return (await session.run(feeds, [...names])) as Record<string, ort.Tensor>;
  } finally {
    await session.release();
  }
}
