// Puts a factorization into the graph in place of its conv: new Conv nodes
// (and channel Gathers for grouped convs) with fresh initializers, the last
// one writing the original output name so consumers need no rewiring.
import { floatTensor, int64Tensor, type AttributeValue, type Graph, type Node } from '../onnx/ir.js';
import { nodeByName, replaceNode, uniqueName } from '../onnx/graph.js';
import type { ConvSpec, Factorization } from './layer.js';

/** Where the refit finds the last conv of a factorization. */
export interface RewrittenLayer {
  /** The original conv's name and output (the refit target). */
  original: string;
  output: string;
  /** The conv whose weights a refit replaces, and the value it reads. */
  lastConv: Node;
  lastInput: string;
  /** Original output channel of each of the last conv's output channels, when a Gather reorders them. */
  outputChannels?: number[];
}

const ints = (value: number[]): AttributeValue => ({ type: 'ints', value });

function convNode(g: Graph, base: string, index: number, spec: ConvSpec, input: string, output: string): Node {
  const w = uniqueName(g, `${base}/factor${index}.weight`);
  g.initializers.set(w, floatTensor(w, [...spec.dims], spec.weight));
  const inputs = [input, w];
  if (spec.bias) {
    const b = uniqueName(g, `${base}/factor${index}.bias`);
    g.initializers.set(b, floatTensor(b, [spec.dims[0]], Float32Array.from(spec.bias)));
    inputs.push(b);
  }
  return {
    name: uniqueName(g, `${base}/factor${index}`),
    opType: 'Conv',
    domain: '',
    inputs,
    outputs: [output],
    attributes: new Map<string, AttributeValue>([
      ['dilations', ints(spec.dilations)],
      ['group', { type: 'int', value: spec.group }],
      ['kernel_shape', ints([spec.dims[2], spec.dims[3]])],
      ['pads', ints(spec.pads)],
      ['strides', ints(spec.strides)],
    ]),
  };
}

function gatherNode(g: Graph, base: string, input: string, order: number[], output: string): Node {
  const idx = uniqueName(g, `${base}.indices`);
  g.initializers.set(idx, int64Tensor(idx, order));
  return { name: uniqueName(g, base), opType: 'Gather', domain: '', inputs: [input, idx], outputs: [output], attributes: new Map([['axis', { type: 'int', value: 1 }]]) };
}

/** Replaces the Conv named `convName` (which must exist) by `f`. The old weights stay until dead-code removal. */
export function applyFactorization(g: Graph, convName: string, f: Factorization): RewrittenLayer {
  const old = nodeByName(g, convName) ?? g.nodes.find((n) => n.outputs[0] === convName);
  if (!old || old.opType !== 'Conv') throw new Error(`no Conv named '${convName}' to factorize`);
  const base = old.name || old.outputs[0];
  const output = old.outputs[0];
  const nodes: Node[] = [];
  // The new nodes join the graph only at the end, so their names must differ by suffix alone.
  const fresh = (suffix: string) => uniqueName(g, `${base}/${suffix}`);
  let current = old.inputs[0];
  if (f.inputOrder) {
    const out = fresh('permuted_input');
    nodes.push(gatherNode(g, `${base}/permute_input`, current, f.inputOrder, out));
    current = out;
  }
  let lastConv: Node | undefined;
  let lastInput = current;
  f.convs.forEach((spec, i) => {
    const isLast = i === f.convs.length - 1;
    const out = isLast && !f.outputOrder ? output : fresh(`factor${i}_out`);
    lastInput = current;
    lastConv = convNode(g, base, i, spec, current, out);
    nodes.push(lastConv);
    current = out;
  });
  if (f.outputOrder) nodes.push(gatherNode(g, `${base}/restore_order`, current, f.outputOrder, output));
  replaceNode(g, old, ...nodes);
  let outputChannels: number[] | undefined;
  if (f.outputOrder) {
    outputChannels = new Array<number>(f.outputOrder.length);
    f.outputOrder.forEach((op, c) => (outputChannels![op] = c));
  }
  return { original: base, output, lastConv: lastConv!, lastInput, outputChannels };
}
