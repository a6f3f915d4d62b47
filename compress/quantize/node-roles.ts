// The roles nodes of a detector graph play for quantization, recognised by
// structure (pure): the Detect head's read-out convs (no activation after
// them), the class-logit read-outs (only Sigmoids downstream), the DFL's
// probabilities (a Softmax's output) and the stem (the conv on the image and
// its activation). plan.ts decides from them what runs in integer.
import type { Graph, Node } from '../onnx/ir.js';
import { constValue, consumers, producers } from '../onnx/graph.js';
import { intAttr, isDefaultDomain } from '../onnx/ir.js';

/** Input channels up to which a conv reading the image counts as the stem (RGB, RGBA). */
const STEM_MAX_CHANNELS = 4;

const ACTIVATIONS = new Set(['Sigmoid', 'Relu', 'LeakyRelu', 'HardSwish', 'HardSigmoid', 'Clip', 'Tanh']);
/** Ops that only move values: the head read-out test looks through them. */
const MOVES = new Set(['Gather', 'Reshape', 'Transpose', 'Squeeze', 'Unsqueeze', 'Flatten', 'Identity']);

/** The read-out test looks through these too: a 1x1 conv split around an upsample (onnx/upsample-pointwise.ts) reaches its SiLU through them. */
const PARTIAL_SUM = new Set(['Resize', 'Add']);

/**
 * A read-out conv: its output reaches neither an activation nor another conv
 * through ops that only move values. That is the head's box/class outputs and
 * the DFL, and not the inner factors of a factorized conv (conv → conv, or
 * conv → Gather → SiLU for a grouped one), which are ordinary convs for int8.
 */
export function isLinearOutputConv(g: Graph, conv: Node, cons: Map<string, Node[]> = consumers(g)): boolean {
  const seen = new Set([conv.outputs[0]]);
  const queue = [conv.outputs[0]];
  while (queue.length > 0) {
    for (const r of cons.get(queue.pop()!) ?? []) {
      if (ACTIVATIONS.has(r.opType) || r.opType === 'Conv') return false;
      if (!MOVES.has(r.opType) && !PARTIAL_SUM.has(r.opType)) continue;
      for (const o of r.outputs) {
        if (seen.has(o)) continue;
        seen.add(o);
        queue.push(o);
      }
    }
  }
  return true;
}

/**
 * A read-out conv whose values reach only Sigmoids: the class logits, whose
 * useful span is fixed by the score floor (CLASS_LOGIT_RANGE), not by what 4
 * calibration images happen to hold. Its channels are followed along axis 1
 * through moves that keep axis 1, Concats and Splits, so ultralytics' own
 * layout (per level Concat(box, cls) → Reshape → Concat → Split(box, cls) →
 * Sigmoid on cls) is recognised as well as separate box/class outputs.
 */
export function isClassLogitConv(g: Graph, conv: Node, shape: (name: string) => readonly number[] | undefined, cons: Map<string, Node[]> = consumers(g)): boolean {
  const channels = shape(conv.outputs[0])?.[1];
  if (channels === undefined) return false;
  const seen = new Set<string>();
  const queue: { tensor: string; lo: number; hi: number }[] = [{ tensor: conv.outputs[0], lo: 0, hi: channels }];
  const axisOf = (n: Node, rank: number) => {
    const a = intAttr(n, 'axis', 0);
    return a < 0 ? a + rank : a;
  };
  let sigmoids = 0;
  while (queue.length > 0) {
    const { tensor, lo, hi } = queue.pop()!;
    const key = `${tensor}:${lo}:${hi}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const dims = shape(tensor);
    if (!dims) return false;
    for (const r of cons.get(tensor) ?? []) {
      if (r.opType === 'Sigmoid') {
        sigmoids++;
      } else if (r.opType === 'Concat') {
        const out = shape(r.outputs[0]);
        if (!out || r.inputs.filter((i) => i === tensor).length !== 1) return false;
        if (axisOf(r, out.length) !== 1) queue.push({ tensor: r.outputs[0], lo, hi });
        else {
          let offset = 0;
          for (const i of r.inputs.slice(0, r.inputs.indexOf(tensor))) {
            const c = shape(i)?.[1];
            if (c === undefined) return false;
            offset += c;
          }
          queue.push({ tensor: r.outputs[0], lo: lo + offset, hi: hi + offset });
        }
      } else if (r.opType === 'Split' && r.inputs[0] === tensor) {
        if (axisOf(r, dims.length) !== 1) {
          for (const o of r.outputs) queue.push({ tensor: o, lo, hi });
          continue;
        }
        let start = 0;
        for (const o of r.outputs) {
          const c = shape(o)?.[1];
          if (c === undefined) return false;
          if (Math.max(lo, start) < Math.min(hi, start + c)) queue.push({ tensor: o, lo: Math.max(lo, start) - start, hi: Math.min(hi, start + c) - start });
          start += c;
        }
      } else if (MOVES.has(r.opType) && r.opType !== 'Transpose' && r.opType !== 'Gather' && r.inputs[0] === tensor) {
        // a Reshape that keeps axes 0 and 1 (flattening the grid) keeps every channel where it was
        const out = shape(r.outputs[0]);
        if (!out || out.length < 2 || out[0] !== dims[0] || out[1] !== dims[1]) return false;
        queue.push({ tensor: r.outputs[0], lo, hi });
      } else {
        return false;
      }
    }
  }
  return sigmoids > 0;
}

/** A tensor that is a Softmax's output seen through moves holds probabilities: [0, 1] by definition. */
export function isProbability(name: string, prod: Map<string, Node>): boolean {
  for (let n = prod.get(name); n; n = prod.get(n.inputs[0])) {
    if (n.opType === 'Softmax') return true;
    if (!MOVES.has(n.opType)) return false;
  }
  return false;
}

/**
 * The stem: each conv that reads a graph input directly with at most
 * STEM_MAX_CHANNELS input channels, and the activation after it (yolov8's
 * SiLU: Sigmoid and Mul), i.e. the activation ops and Muls whose every
 * non-constant input comes from the stem. It ends at the next conv.
 */
export function stemNodes(g: Graph, prod: Map<string, Node> = producers(g), cons: Map<string, Node[]> = consumers(g)): Set<Node> {
  const images = new Set(g.inputs.filter((v) => !g.initializers.has(v.name)).map((v) => v.name));
  const stem = new Set<Node>();
  const fromStem = new Set<string>();
  const queue: Node[] = [];
  for (const n of g.nodes) {
    if (n.opType !== 'Conv' || !isDefaultDomain(n.domain) || !images.has(n.inputs[0])) continue;
    const w = constValue(g, n.inputs[1], prod);
    if (!w || w.dims.length !== 4 || intAttr(n, 'group', 1) * w.dims[1] > STEM_MAX_CHANNELS) continue;
    stem.add(n);
    queue.push(n);
  }
  while (queue.length > 0) {
    const n = queue.pop()!;
    for (const o of n.outputs) {
      fromStem.add(o);
      for (const r of cons.get(o) ?? []) {
        if (stem.has(r) || !isDefaultDomain(r.domain) || !(ACTIVATIONS.has(r.opType) || r.opType === 'Mul')) continue;
        if (!r.inputs.every((i) => i === '' || fromStem.has(i) || constValue(g, i, prod))) continue;
        stem.add(r);
        queue.push(r);
      }
    }
  }
  return stem;
}
