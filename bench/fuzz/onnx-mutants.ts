// Malformed ONNX files, made from a valid one by seeded mutations: bytes cut
// short or bit-flipped, and, on the decoded protobuf, huge or zero input
// dimensions, graph cycles, external-data references, wrong opsets and IR
// versions, unknown operators and absurd attributes. Shared by
// test/fuzz/onnx.test.ts (about 50) and bench/fuzz.bench.ts (1,000).
import fc from 'fast-check';
import { DataType, floatTensor, int64Tensor, type Model } from '../../compress/onnx/ir.js';
import { DATA_LOCATION_EXTERNAL, ModelProto } from '../../compress/onnx/schema.js';
import { writeModel } from '../../compress/onnx/write.js';

/**
 * A detector small enough to load a thousand times: images [1,3,32,32] →
 * an 8×8 stride-8 Conv to 6 channels → [1,6,16] (4 box coordinates and 2
 * class scores for 16 anchors), the layout of a YOLOv8 head's output.
 */
export function tinyDetector(): Model {
  const weights = floatTensor('w', [6, 3, 8, 8], Float32Array.from({ length: 6 * 3 * 64 }, (_, i) => Math.sin(i) / 64));
  return {
    irVersion: 8,
    opsetImports: [{ domain: '', version: 17 }],
    producerName: 'edgefit-fuzz',
    producerVersion: '0',
    domain: '',
    modelVersion: 1,
    docString: '',
    metadata: new Map([['names', "{0: 'person', 1: 'bus'}"]]),
    graph: {
      name: 'tiny',
      nodes: [
        { name: 'conv', opType: 'Conv', domain: '', inputs: ['images', 'w'], outputs: ['c'], attributes: new Map([['kernel_shape', { type: 'ints', value: [8, 8] }], ['strides', { type: 'ints', value: [8, 8] }]]) },
        { name: 'flat', opType: 'Reshape', domain: '', inputs: ['c', 'shape'], outputs: ['output0'], attributes: new Map() },
      ],
      inputs: [{ name: 'images', elemType: DataType.FLOAT, shape: [1, 3, 32, 32] }],
      // the anchors named, not fixed: a mutated input changes their count, and onnxruntime would warn about the merge on stderr
      outputs: [{ name: 'output0', elemType: DataType.FLOAT, shape: [1, 6, 'anchors'] }],
      valueInfo: [],
      initializers: new Map([
        ['w', weights],
        ['shape', int64Tensor('shape', [1, 6, -1])],
      ]),
    },
  };
}

/* eslint-disable @typescript-eslint/no-explicit-any -- protobufjs message objects are untyped */
type Proto = any;

export interface Mutant {
  /** What was done, for the report and for a regression test. */
  label: string;
  bytes: Uint8Array;
}

/** Values an int64 dimension should never take: 10^12, 2^31, int64's largest (as text: JS numbers cannot hold it), 0, -1, 2^53. */
const HUGE_DIMS = [1e12, 2 ** 31, '9223372036854775807', 0, -1, 2 ** 53];
const OPSETS = [0, 1, 6, 99, 2 ** 31 - 1];
const IR_VERSIONS = [0, 2, 99, -1];
const EXTERNAL = ['../../../../etc/passwd', '/dev/zero', 'weights.bin', ''];

type ProtoMutation = { label: string; apply: (m: Proto) => void };

function protoMutations(): fc.Arbitrary<ProtoMutation> {
  return fc.oneof(
    fc.tuple(fc.nat(3), fc.constantFrom(...HUGE_DIMS)).map(([axis, value]) => ({
      label: `input dim ${axis} = ${value}`,
      apply: (m: Proto) => {
        const dim = m.graph.input[0].type.tensorType.shape.dim[axis];
        dim.dimValue = value;
        delete dim.dimParam;
      },
    })),
    fc.constantFrom(...HUGE_DIMS).map((value) => ({
      label: `output dim 2 = ${value}`,
      apply: (m: Proto) => {
        const dim = m.graph.output[0].type.tensorType.shape.dim[2];
        dim.dimValue = value;
        delete dim.dimParam;
      },
    })),
    fc.constantFrom('self', 'back').map((kind) => ({
      label: `graph cycle (${kind})`,
      apply: (m: Proto) => {
        const nodes = m.graph.node;
        // 'self': the Conv reads its own output; 'back': it reads the last node's output, which reads it
        nodes[0].input[0] = kind === 'self' ? nodes[0].output[0] : nodes[nodes.length - 1].output[0];
      },
    })),
    fc.constantFrom(...EXTERNAL).map((location) => ({
      label: `external data '${location}'`,
      apply: (m: Proto) => {
        const t = m.graph.initializer[0];
        t.dataLocation = DATA_LOCATION_EXTERNAL;
        t.externalData = [{ key: 'location', value: location }, { key: 'length', value: '1000000000' }];
        t.rawData = new Uint8Array(0);
        t.floatData = [];
      },
    })),
    fc.tuple(fc.constantFrom(...OPSETS), fc.constantFrom('', 'com.evil')).map(([version, domain]) => ({
      label: `opset ${domain || 'ai.onnx'} ${version}`,
      apply: (m: Proto) => {
        m.opsetImport = [{ domain, version }];
      },
    })),
    fc.constantFrom(...IR_VERSIONS).map((v) => ({ label: `ir_version ${v}`, apply: (m: Proto) => void (m.irVersion = v) })),
    fc.constantFrom('NoSuchOp', '', 'Loop', 'If').map((op) => ({ label: `operator '${op}'`, apply: (m: Proto) => void (m.graph.node[0].opType = op) })),
    fc.constantFrom([0, 0], [2 ** 31, 1], [-8, -8]).map((strides) => ({
      label: `Conv strides [${strides}]`,
      apply: (m: Proto) => {
        const a = m.graph.node[0].attribute.find((x: Proto) => x.name === 'strides');
        a.ints = strides;
      },
    })),
    fc.constantFrom([1e9], [6, 3, 8, 8, 8], [0], [-1, 3, 8, 8]).map((dims) => ({ label: `weights dims [${dims}]`, apply: (m: Proto) => void (m.graph.initializer[0].dims = dims) })),
    fc.constant({ label: 'no nodes', apply: (m: Proto) => void (m.graph.node = []) }),
    fc.constant({ label: 'no graph', apply: (m: Proto) => void (m.graph = null) }),
    fc.constant({ label: 'two inputs', apply: (m: Proto) => void m.graph.input.push({ ...m.graph.input[0], name: 'extra' }) }),
    fc.constantFrom(6, 7, 10, 16).map((t) => ({ label: `input type ${t}`, apply: (m: Proto) => void (m.graph.input[0].type.tensorType.elemType = t) })),
  );
}

/** Mutants of `bytes` (a valid model): byte-level always; protobuf-level where the bytes decode. */
export function mutants(bytes: Uint8Array, count: number, seed: number): Mutant[] {
  const byteLevel = fc.oneof(
    fc.nat({ max: Math.max(0, bytes.length - 1) }).map((n) => ({ label: `truncated to ${n} of ${bytes.length} bytes`, bytes: bytes.subarray(0, n) })),
    fc.array(fc.nat({ max: bytes.length * 8 - 1 }), { minLength: 1, maxLength: 16 }).map((bits) => {
      const copy = Uint8Array.from(bytes);
      for (const b of bits) copy[b >> 3] ^= 1 << (b & 7);
      return { label: `${bits.length} bit(s) flipped at ${bits.slice(0, 4).map((b) => b >> 3).join(', ')}${bits.length > 4 ? ', …' : ''}`, bytes: copy };
    }),
  );
  const protoLevel = fc.array(protoMutations(), { minLength: 1, maxLength: 2 }).map((ms) => {
    const m = ModelProto.decode(bytes) as Proto;
    for (const x of ms) {
      try {
        x.apply(m);
      } catch {
        // a mutation that does not fit this model (no input dims, no Conv) leaves it as it is
      }
    }
    return { label: ms.map((x) => x.label).join(' + '), bytes: ModelProto.encode(m).finish() };
  });
  return fc.sample(fc.oneof(byteLevel, protoLevel, protoLevel), { seed, numRuns: count });
}

/** The tiny detector's bytes. */
export function tinyDetectorBytes(): Uint8Array {
  return writeModel(tinyDetector());
}

/** The tiny detector with its input's dims replaced (numbers, or text for values past 2^53): the first probe's files. */
export function tinyDetectorWithInput(dims: Array<number | string>): Uint8Array {
  const m = ModelProto.decode(tinyDetectorBytes()) as Proto;
  m.graph.input[0].type.tensorType.shape.dim = dims.map((d) => ({ dimValue: d }));
  return ModelProto.encode(m).finish();
}
