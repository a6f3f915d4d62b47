import { describe, expect, it } from 'vitest';
import { mapTrace, modelNodeOf } from '../../../compress/latency/op-profile.js';
import { parseTrace, TraceError } from '../../../compress/latency/trace.js';

// Events as onnxruntime writes them (profiler.cc): one Session `model_run` per
// run, a Node `<name>_kernel_time` per kernel with args.op_name, fences of
// zero duration, and session initialisation outside every run.
function run(ts: number, kernels: Array<[string, string, number]>): unknown[] {
  const events: unknown[] = [];
  let t = ts + 1;
  for (const [name, op, dur] of kernels) {
    events.push({ cat: 'Node', pid: 1, tid: 1, dur: 0, ts: t, ph: 'X', name: `${name}_fence_before`, args: { op_name: op } });
    events.push({ cat: 'Node', pid: 1, tid: 1, dur, ts: t, ph: 'X', name: `${name}_kernel_time`, args: { op_name: op, provider: 'CPUExecutionProvider' } });
    t += dur + 1;
  }
  events.push({ cat: 'Session', pid: 1, tid: 1, dur: t - ts + 5, ts, ph: 'X', name: 'model_run', args: {} });
  return events;
}

const kernels = (scale: number): Array<[string, string, number]> => [
  ['ReorderInput', 'ReorderInput', 2 * scale],
  ['/model.0/conv/Conv_token_12', 'Conv', 100 * scale],
  ['QuickGelu_token_3', 'QuickGelu', 10 * scale],
  ['fused /model.1/conv/Conv', 'FusedConv', 50 * scale],
  ['ReorderOutput_token_4', 'ReorderOutput', 4 * scale],
  ['/model.2/Add', 'Add', 6 * scale],
];

// a warm-up run 10× slower than the measured ones, as a first run that allocates is
const trace = [{ cat: 'Session', name: 'session_initialization', ts: 0, dur: 500, args: {} }, ...run(1000, kernels(10)), ...run(5000, kernels(1)), ...run(6000, kernels(3))];

describe('onnxruntime trace parser', () => {
  it('averages each kernel over the measured runs and skips the warm-up', () => {
    const t = parseTrace(trace, 1);
    expect(t.runs).toBe(2);
    expect(t.nodes.map((n) => n.name)).toEqual(kernels(1).map((k) => k[0]));
    // (1 + 3) / 2 = 2× the unit durations; the 10× warm-up is not in it
    expect(t.nodes.map((n) => n.us)).toEqual(kernels(2).map((k) => k[2]));
    expect(t.nodes[1]).toMatchObject({ op: 'Conv', provider: 'CPUExecutionProvider' });
    // a run lasts its kernels plus 12 µs of gaps (run() above): 172 + 12 and 516 + 12
    expect(t.runUs).toBe((172 + 12 + 516 + 12) / 2);
  });

  it('refuses a trace with nothing after the warm-up, and what is not a trace', () => {
    expect(() => parseTrace(trace, 3)).toThrow(TraceError);
    expect(() => parseTrace({ some: 'object' }, 0)).toThrow(/not an onnxruntime profile/);
    expect(parseTrace({ traceEvents: trace }, 1).runs).toBe(2);
  });
});

describe('mapping the optimized graph onto the model', () => {
  const model = [
    { name: '/model.0/conv/Conv', opType: 'Conv' },
    { name: '/model.0/act/Sigmoid', opType: 'Sigmoid' },
    { name: '/model.0/act/Mul', opType: 'Mul' },
    { name: '/model.1/conv/Conv', opType: 'Conv' },
    { name: '/model.2/Add', opType: 'Add' },
  ];

  it('strips the marks onnxruntime adds to a node it rewrites', () => {
    const names = new Set(model.map((n) => n.name));
    expect(modelNodeOf('fused /model.1/conv/Conv', names)).toBe('/model.1/conv/Conv');
    expect(modelNodeOf('/model.0/conv/Conv_token_12', names)).toBe('/model.0/conv/Conv');
    expect(modelNodeOf('fused /model.0/conv/Conv_token_3', names)).toBe('/model.0/conv/Conv');
    expect(modelNodeOf('/model.1/conv/Conv_nchwc', names)).toBe('/model.1/conv/Conv');
    // onnxruntime 1.30's own names: an NCHWc conv after its output value, a QuickGelu after the SiLU's Mul
    expect(modelNodeOf('/model.0/conv/Conv_output_0_nchwc', names, new Map([['/model.0/conv/Conv_output_0', '/model.0/conv/Conv']]))).toBe('/model.0/conv/Conv');
    expect(modelNodeOf('/model.0/act/Mul/QuickGeluFusion/', names)).toBe('/model.0/act/Mul');
    // an fp16 node the CPU provider runs in float between inserted casts, and one of those casts (named after the value it converts)
    const producers = new Map([['/model.0/conv/Conv_output_0', '/model.0/conv/Conv'], ['/model.0/act/Mul_output_0', '/model.0/act/Mul']]);
    expect(modelNodeOf('InsertedPrecisionFreeCast_/model.0/conv/Conv_output_0_nchwc', names, producers)).toBe('/model.0/conv/Conv');
    expect(modelNodeOf('InsertedPrecisionFreeCast_/model.0/act/Mul_output_0', names, producers)).toBe('/model.0/act/Mul');
    expect(modelNodeOf('QuickGelu_token_3', names)).toBeUndefined();
    expect(modelNodeOf('ReorderInput', names)).toBeUndefined();
  });

  it('gives each model node its own time and attributes what does not map to the node it serves', () => {
    const p = mapTrace(parseTrace(trace, 1), model);
    const byNode = new Map(p.nodes.map((n) => [n.node, n]));
    // own: the kernels that map; absorbed: ReorderInput (2·2) feeds conv 0, QuickGelu (10·2) follows it;
    // ReorderOutput (4·2) ends conv 1
    expect(byNode.get('/model.0/conv/Conv')).toEqual({ node: '/model.0/conv/Conv', op: 'Conv', ownUs: 200, absorbedUs: 4 + 20 });
    expect(byNode.get('/model.1/conv/Conv')).toEqual({ node: '/model.1/conv/Conv', op: 'Conv', ownUs: 100, absorbedUs: 8 });
    expect(byNode.get('/model.2/Add')).toEqual({ node: '/model.2/Add', op: 'Add', ownUs: 12, absorbedUs: 0 });
    expect(p.unmapped.map((u) => [u.name, u.to])).toEqual([
      ['ReorderInput', '/model.0/conv/Conv'],
      ['QuickGelu_token_3', '/model.0/conv/Conv'],
      ['ReorderOutput_token_4', '/model.1/conv/Conv'],
    ]);
    // the SiLU's Sigmoid and Mul ran inside QuickGelu: no kernel of their own
    expect(p.absent).toBe(2);
    // nothing is lost: the model's nodes carry every kernel's time
    expect(p.nodes.reduce((s, n) => s + n.ownUs + n.absorbedUs, 0)).toBeCloseTo(p.kernelUs, 9);
    expect(p.kernelUs).toBe(2 * (2 + 100 + 10 + 50 + 4 + 6));
  });
});
