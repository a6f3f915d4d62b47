// The latency predictor's view (compress/latency/features.ts nodeShapes) of
// the model buildGenome would build, without building it: the search asks it
// for thousands of genomes, and building one costs ~74 ms for prune +
// nodeShapes alone on yolov8n (measured quiet; bench/search-shapes.bench.ts
// measured 661 ms for that against 0.74 ms here, interleaved at load average
// 12, 0.33 ms CPU per genome warm over the whole space at 640 px). Every candidate of a space is a
// template graph with numbers changed: which nodes run depends only on the
// precision and on which convs are factorized; their features only on each
// tensor's channel count (base − the removals of the prune groups that cover
// it, or a factorization's rank) and on the input size (spatial axes scale
// exactly with it, sizes and strides being multiples of 32).
// So a ShapeContext converts the base once per precision, plain and with
// every conv of the space factorized, and records per node which tensors its
// features read; genomeShapes then only does arithmetic.
import type { CalibrationSet } from '../calibration.js';
import { convertToFp16 } from '../fp16.js';
import { nodeShapes, type NodeShape, type Precision } from '../latency/features.js';
import { constValue, consumers, producers } from '../onnx/graph.js';
import { intAttr, type Model, type Node } from '../onnx/ir.js';
import { hoistPointwiseConvs, type PointwiseHoist } from '../onnx/upsample-pointwise.js';
import { inferShapes } from '../onnx/shapes.js';
import { buildDependencyGraph } from '../prune/dependency.js';
import { buildGroups } from '../prune/groups.js';
import { quantizeModel } from '../quantize/quantize.js';
import { resizeModel } from '../resize.js';
import { rankFor } from './build.js';
import { factorizedStructure, methodOf } from './factorized-structure.js';
import type { Genome } from './genome.js';
import { DEFAULT_MIN_CHANNELS, type SearchSpace } from './space.js';
import { SearchSpaceError } from './errors.js';

/** A tensor of the fp32 graphs: its dims at the base size, how each axis scales with the size, and where its channel count comes from. */
interface TensorExpr {
  dims: number[];
  /** Per axis, the power of size/baseSize it scales with (0 for channels and constants, 1 for H and W, 2 for flattened H·W). */
  exps: number[];
  /** Axis 1: prune groups that cover it (group index, slots per unit), or the rank of a factorized conv (index into space.convs). */
  channel?: { terms: [number, number][] } | { rankOf: number };
  /** The product of the other axes at the base size, and the power of size/baseSize it scales with (exact: every spatial dim is the size over a stride that divides it). */
  fixed: number;
  exp: number;
  /** Index into a call's cache of sizes. */
  id: number;
}

interface NodeTemplate {
  shape: NodeShape;
  input?: TensorExpr;
  output?: TensorExpr;
  /** Convs: kernel, whether the conv is depthwise (its group follows its input channels), and its kind keys per layout. */
  conv?: { kh: number; kw: number; group: number; depthwise: boolean; kinds: Record<'dw' | 'c16' | 'odd', string[]> };
  /** Which factorized conv's region the node belongs to: in the plain template (the conv itself) or the factorized one. */
  region?: number;
}

interface PrecisionTemplates {
  factorized: NodeTemplate[];
  /** Per conv of the space, its nodes in the plain template (what a genome that leaves it whole runs: the conv, or the parts int8 splits it into). */
  plainRegions: NodeTemplate[][];
}

export interface ShapeContext {
  space: SearchSpace;
  templates: Partial<Record<Precision, PrecisionTemplates>>;
  /** Per factorizable conv, its input and output tensors in the plain graph (their channels give the rank). */
  convs: { input: TensorExpr; output: TensorExpr; k: number; method: 'spatial' | 'lowrank' }[];
  /** How many tensor expressions the templates share (the size of genomeShapes' cache). */
  tensors: number;
}

const numel = (dims: number[]) => dims.reduce((a, b) => a * b, 1);

/** Axis exponents: dims at the base size against dims at another size (a ratio r ≠ 1). */
function exponents(a: number[], b: number[] | undefined, r: number): number[] {
  return a.map((d, i) => {
    const e = b?.[i];
    if (e === undefined || e === d || d === 0) return 0;
    if (Math.abs(e - d * r) < 1e-6) return 1;
    if (Math.abs(e - d * r * r) < 1e-6) return 2;
    throw new Error(`axis ${i} of a tensor scales neither with the size nor its square (${d} → ${e})`);
  });
}

/**
 * The per-tensor expressions of the fp32 graphs: plain and factorized, and
 * `split`, the same two with their 1x1 convs split around the upsamples as
 * int8 runs them (a split's new tensors carry the channels of the conv's output).
 */
function tensorExprs(space: SearchSpace, plain: Model, factorized: Model, split: readonly PointwiseHoist[]): Map<string, TensorExpr> {
  const index = buildGroups(buildDependencyGraph(plain));
  const cover = new Map<string, [number, number][]>();
  index.groups.forEach((g, k) => {
    for (const v of g.values) {
      if (!cover.has(v.name)) cover.set(v.name, []);
      cover.get(v.name)!.push([k, v.perUnit]);
    }
  });
  const other = space.sizes[1] ?? Math.max(32, space.baseSize - 32);
  const r = other / space.baseSize;
  const exprs = new Map<string, TensorExpr>();
  const alias = new Map(split.flatMap((h) => [...h.parts.values()].flatMap((part) => part.tensors.map((t) => [t, part.output] as const))));
  const graphs: [Model, boolean][] = [[plain, false], [factorized, true], ...split.map((h, i): [Model, boolean] => [h.model, i === 1])];
  for (const [model, factor] of graphs) {
    const types = inferShapes(model);
    const probe = inferShapes(resizeModel(model, other).model);
    for (const [name, t] of types) {
      if (exprs.has(name) || !t.shape.every((d): d is number => typeof d === 'number')) continue;
      const dims = t.shape as number[];
      const conv = factor ? space.convs.findIndex((c) => name.startsWith(`${c.name}/factor`)) : -1;
      const groups = cover.get(name) ?? cover.get(alias.get(name) ?? '');
      const exps = exponents(dims, probe.get(name)?.shape as number[] | undefined, r);
      const channel = conv >= 0 ? { rankOf: conv } : groups ? { terms: groups } : undefined;
      const other = dims.map((_, a) => a).filter((a) => !(a === 1 && channel));
      exprs.set(name, { dims, exps, ...(channel ? { channel } : {}), fixed: numel(other.map((a) => dims[a])), exp: other.reduce((e, a) => e + exps[a], 0), id: exprs.size });
    }
  }
  return exprs;
}

const CONVERSIONS = ['Cast', 'QuantizeLinear', 'DequantizeLinear'];

/**
 * The fp32 tensor a value of a converted graph holds: back through Cast,
 * QuantizeLinear and DequantizeLinear to a float value, or forward through a
 * Cast that restores a renamed one (fp16 renames what feeds a graph output).
 */
function sourceOf(name: string, prod: Map<string, Node>, cons: Map<string, Node[]>, exprs: Map<string, TensorExpr>): TensorExpr | undefined {
  for (let v = name, hops = 0; hops < 8; hops++) {
    const e = exprs.get(v);
    if (e) return e;
    const p = prod.get(v);
    if (!p || !CONVERSIONS.includes(p.opType)) break;
    v = p.inputs[0];
  }
  const next = cons.get(name);
  if (next?.length === 1 && next[0].opType === 'Cast') return exprs.get(next[0].outputs[0]);
  return undefined;
}

// nodeShapes' conv kinds since the pred merge: [Conv/p/kernel/dw, Conv/p/kernel, Conv/p, Conv] for a depthwise
// conv, [Conv/p/kernel, Conv/p, Conv] for any other (an odd channel layout is the 5th feature, not a kind).
function convKinds(kinds: string[]): Record<'dw' | 'c16' | 'odd', string[]> {
  const plain = kinds[0].endsWith('/dw') ? kinds.slice(1) : kinds;
  return { dw: [`${plain[0]}/dw`, ...plain], c16: plain, odd: plain };
}

/**
 * The template of a converted graph. A conv's region is what replaces it: in
 * the factorized graph its factor convs (and anything int8 splits them into),
 * in the plain one the conv itself or, where int8 split it around an upsample
 * (`split`: hoistPointwiseConvs' parts of the plain graph), its parts; with the
 * Q/DQ pairs (or Casts) of the region's inner tensors.
 */
function templates(space: SearchSpace, model: Model, exprs: Map<string, TensorExpr>, factorized: boolean, split: PointwiseHoist['parts'] = new Map()): NodeTemplate[] {
  const prod = producers(model.graph);
  const cons = consumers(model.graph);
  const byName = new Map(model.graph.nodes.map((n) => [n.name, n]));
  const owns = factorized
    ? (c: SearchSpace['convs'][number], node: string) => node.startsWith(`${c.name}/`)
    : (c: SearchSpace['convs'][number], node: string) => node === c.name || !!split.get(c.name)?.nodes.includes(node);
  const inner = factorized
    ? (c: SearchSpace['convs'][number], tensor: string) => tensor.startsWith(`${c.name}/factor`)
    : (c: SearchSpace['convs'][number], tensor: string) => !!split.get(c.name)?.tensors.includes(tensor);
  const regionOf = (n: Node): number | undefined => {
    const i = space.convs.findIndex((c) => owns(c, n.name));
    if (i >= 0) return i;
    if (!CONVERSIONS.includes(n.opType)) return undefined;
    for (let v = n.inputs[0], hops = 0; hops < 8; hops++) {
      const j = space.convs.findIndex((c) => inner(c, v));
      if (j >= 0) return j;
      const p = prod.get(v);
      if (!p || !CONVERSIONS.includes(p.opType)) return undefined;
      v = p.inputs[0];
    }
    return undefined;
  };
  return nodeShapes(model).map((shape) => {
    const n = byName.get(shape.node)!;
    const isConv = shape.kinds[0].startsWith('Conv/');
    const input = sourceOf(n.inputs[0], prod, cons, exprs);
    const cin = input?.dims[1] ?? 0;
    const group = isConv ? intAttr(n, 'group', 1) : 1;
    const kernel = isConv ? /\/(\d+)x(\d+)(\/|$)/.exec(shape.kinds[0]) : null;
    return {
      shape,
      input,
      output: sourceOf(n.outputs[0], prod, cons, exprs),
      ...(isConv && kernel ? { conv: { kh: Number(kernel[1]), kw: Number(kernel[2]), group, depthwise: group > 1 && group === cin, kinds: convKinds(shape.kinds) } } : {}),
      region: regionOf(n),
    };
  });
}

/**
 * Converts the base once per precision of the space, plain and with every
 * factorizable conv of the space factorized (int8 calibrated at the base
 * size: which nodes run does not depend on the ranges).
 */
export async function shapeContext(base: Model, space: SearchSpace, calibration: (size: number) => Promise<CalibrationSet>): Promise<ShapeContext> {
  // One method per conv (as searchSpace makes them): the factorized template holds that method's pair.
  const mixed = space.convs.find((c) => new Set(c.options.map((o) => o?.method).filter(Boolean)).size > 1);
  if (mixed) throw new SearchSpaceError(`conv ${mixed.name}: genomeShapes takes one factorization method per conv`);
  const factorized = space.convs.length ? factorizedStructure(base, space) : base;
  // int8 splits the neck's 1x1 convs around their upsamples (quantizeModel's hoistPointwise, default on): plain, then factorized
  const split = space.precisions.includes('int8') ? [base, factorized].map(hoistPointwiseConvs) : [];
  const exprs = tensorExprs(space, base, factorized, split);
  const at = async (p: Precision, model: Model): Promise<Model> => {
    if (p === 'fp16') return convertToFp16(model).model;
    if (p === 'int8') return (await quantizeModel(model, await calibration(space.baseSize))).model;
    return model;
  };
  const out: ShapeContext['templates'] = {};
  for (const p of space.precisions) {
    const plain = templates(space, await at(p, base), exprs, false, p === 'int8' ? split[0].parts : undefined);
    out[p] = { factorized: templates(space, await at(p, factorized), exprs, true), plainRegions: space.convs.map((_, i) => plain.filter((n) => n.region === i)) };
  }
  const nodes = new Map(base.graph.nodes.map((n) => [n.name, n]));
  const convs = space.convs.map((c, i) => {
    const n = nodes.get(c.name)!;
    return { input: exprs.get(n.inputs[0])!, output: exprs.get(n.outputs[0])!, k: constValue(base.graph, n.inputs[1])!.dims[2], method: methodOf(space, i) };
  });
  return { space, templates: out, convs, tensors: exprs.size };
}

/** The node shapes of the model buildGenome(base, space, genome) builds; see the file's head for how. */
export function genomeShapes(ctx: ShapeContext, genome: Genome): NodeShape[] {
  const { space } = ctx;
  const t = ctx.templates[genome.precision];
  if (!t) throw new SearchSpaceError(`precision ${genome.precision} is not in the search space`);
  const removals = space.groups.map((g, k) => g.removals[genome.prune[k]]);
  const r = genome.size / space.baseSize;
  const plainChannels = (e: TensorExpr): number => {
    let c = e.dims[1];
    if (e.channel && 'terms' in e.channel) for (const [g, per] of e.channel.terms) c -= removals[g] * per;
    return c;
  };
  const minChannels = space.minChannels ?? DEFAULT_MIN_CHANNELS;
  // Per conv of the space: its rank when the genome factorizes it and pruning leaves it eligible, else 0.
  const ranks = space.convs.map((c, i) => {
    const option = c.options[genome.factor[i]];
    if (!option) return 0;
    const { input, output, k, method } = ctx.convs[i];
    const cin = plainChannels(input), cout = plainChannels(output);
    return Math.min(cin, cout) >= minChannels ? rankFor(method, cout, cin, k, option.keep) : 0;
  });
  const channels = (e: TensorExpr): number => (e.channel && 'rankOf' in e.channel ? ranks[e.channel.rankOf] : plainChannels(e));
  const power = [1, r, r * r, r * r * r, r ** 4];
  // Q/DQ chains read the same tensor several times: each size is computed once per call.
  const sizes = new Float64Array(ctx.tensors).fill(-1);
  const size = (e: TensorExpr | undefined, fallback: number): number => {
    if (!e) return fallback;
    if (sizes[e.id] < 0) sizes[e.id] = Math.round(e.fixed * power[e.exp] * (e.channel ? channels(e) : 1));
    return sizes[e.id];
  };
  const out: NodeShape[] = [];
  const emit = (n: NodeTemplate) => {
    const s = n.shape;
    const c = n.conv;
    if (!c) {
      out.push({ node: s.node, op: s.op, kinds: s.kinds, x: [size(n.output, s.x[0]), size(n.input, s.x[1])] });
      return;
    }
    const cout = n.output ? channels(n.output) : 0;
    const cin = n.input ? channels(n.input) : 0;
    const group = c.depthwise ? cin : c.group;
    const perOut = (cin / group) * c.kh * c.kw;
    const outElems = size(n.output, s.x[1]);
    const layout = group > 1 && group === cin ? 'dw' : cout % 16 === 0 && (cin < 8 || cin % 16 === 0) ? 'c16' : 'odd';
    const macs = outElems * perOut;
    out.push({ node: s.node, op: s.op, kinds: c.kinds[layout], x: [macs, outElems, size(n.input, s.x[2]), cout * perOut, layout === 'odd' ? macs : 0] });
  };
  // The factorized template's order; a region whose conv the genome leaves whole takes the plain template's conv.
  const done = new Uint8Array(ranks.length);
  for (const n of t.factorized) {
    if (n.region === undefined || ranks[n.region] > 0) emit(n);
    else if (!done[n.region]) {
      done[n.region] = 1;
      t.plainRegions[n.region].forEach(emit);
    }
  }
  return out;
}
