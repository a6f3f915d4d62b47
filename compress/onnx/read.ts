// ONNX file → IR. protobufjs does the wire decoding; this file validates what
// came out and turns it into plain typed data. Every failure, including
// protobufjs' own, surfaces as a ModelFormatError that names the problem.
import { readFileSync } from 'node:fs';
import protobuf from 'protobufjs';
import {
  DataType,
  numel,
  type AttributeValue,
  type Dim,
  type Graph,
  type Model,
  type Node,
  type Tensor,
  type TensorData,
  type ValueInfo,
  type DataTypeId,
} from './ir.js';
import {
  AttributeType,
  DATA_LOCATION_EXTERNAL,
  FunctionProto,
  ModelProto,
  SparseTensorProto,
  TensorAnnotation,
  TrainingInfoProto,
  TypeProto,
} from './schema.js';
import { allocate, dataTypeName, isSupportedDataType, storageOf } from './tensor.js';
import { codedError } from '../../protocol/errors.js';

/** The bytes are not a usable ONNX model; the message says why, for a person. */
export class ModelFormatError extends codedError('E_MODEL_FORMAT') {
  override name = 'ModelFormatError';
}

// Shapes of the decoded protobuf messages: the parsing boundary.
interface Int64Like { low: number; high: number; toNumber(): number }
type Int64 = number | Int64Like;
interface PEntry { key: string; value: string }
interface PTensor {
  dims: Int64[]; dataType: number; segment?: unknown; floatData: number[]; int32Data: number[];
  stringData: Uint8Array[]; int64Data: Int64[]; name: string; docString: string; rawData: Uint8Array;
  externalData: PEntry[]; dataLocation: number; doubleData: number[]; uint64Data: Int64[];
}
interface PDim { dimValue?: Int64; dimParam?: string }
interface PType {
  tensorType?: { elemType: number; shape?: { dim: PDim[] } };
  sequenceType?: unknown; mapType?: unknown; optionalType?: unknown; sparseTensorType?: unknown; opaqueType?: unknown;
}
interface PValueInfo { name: string; type?: PType; docString: string }
interface PAttribute {
  name: string; type: number; f: number; i: Int64; s: Uint8Array; t?: PTensor; g?: PGraph; floats: number[]; ints: Int64[];
  strings: Uint8Array[]; tensors: PTensor[]; graphs: PGraph[]; docString: string;
}
interface PNode { input: string[]; output: string[]; name: string; opType: string; domain: string; attribute: PAttribute[]; docString: string }
interface PGraph {
  node: PNode[]; name: string; initializer: PTensor[]; sparseInitializer: protobuf.Message[]; docString: string;
  input: PValueInfo[]; output: PValueInfo[]; valueInfo: PValueInfo[]; quantizationAnnotation: protobuf.Message[];
}
interface PModel {
  irVersion: Int64; opsetImport: { domain: string; version: Int64 }[]; producerName: string; producerVersion: string;
  domain: string; modelVersion: Int64; docString: string; graph?: PGraph; metadataProps: PEntry[];
  trainingInfo: protobuf.Message[]; functions: protobuf.Message[];
}

function num(v: Int64): number {
  return typeof v === 'number' ? v : v.toNumber();
}

function big(v: Int64, unsigned: boolean): bigint {
  if (typeof v === 'number') return BigInt(v);
  const b = (BigInt(v.high >>> 0) << 32n) | BigInt(v.low >>> 0);
  return unsigned ? b : BigInt.asIntN(64, b);
}

const utf8 = new TextDecoder();

function readTensor(p: PTensor, where: string): Tensor {
  const name = p.name || where;
  if (p.dataLocation === DATA_LOCATION_EXTERNAL) {
    const location = p.externalData.find((e) => e.key === 'location')?.value ?? '?';
    throw new ModelFormatError(
      `the model uses external data: tensor '${name}' is stored in the side file '${location}'; ` +
        'edgefit reads self-contained ONNX files only (re-save the model with all tensors inside the .onnx)',
    );
  }
  if (p.segment) throw new ModelFormatError(`tensor '${name}' is segmented (TensorProto.segment), which edgefit does not support`);
  if (!isSupportedDataType(p.dataType)) {
    throw new ModelFormatError(`tensor '${name}' has data type ${dataTypeName(p.dataType)}, which edgefit does not support`);
  }
  const dataType: DataTypeId = p.dataType;
  const dims = p.dims.map(num);
  if (dims.some((d) => !Number.isSafeInteger(d) || d < 0)) throw new ModelFormatError(`tensor '${name}' has invalid dims [${dims}]`);
  const n = numel(dims);
  const tensor: Tensor = { name: p.name, dataType, dims, data: decodeData(p, dataType, n, name) };
  if (p.docString) tensor.docString = p.docString;
  return tensor;
}

function decodeData(p: PTensor, t: DataTypeId, n: number, name: string): TensorData {
  const mismatch = (have: number) =>
    new ModelFormatError(`tensor '${name}' (${dataTypeName(t)}, ${n} elements) holds ${have} values: the file is corrupt`);
  if (t === DataType.STRING) {
    if (p.stringData.length !== n) throw mismatch(p.stringData.length);
    return p.stringData.map((b) => utf8.decode(b));
  }
  const ctor = storageOf(t)!;
  const out = allocate(t, n) as Exclude<TensorData, string[]>;
  if (p.rawData.length > 0) {
    if (p.rawData.length !== n * ctor.BYTES_PER_ELEMENT) throw mismatch(p.rawData.length / ctor.BYTES_PER_ELEMENT);
    // Copy: the typed array must be aligned and must not pin the whole file buffer.
    new Uint8Array(out.buffer, out.byteOffset, out.byteLength).set(p.rawData);
    return out;
  }
  if (n === 0) return out;
  const source: ArrayLike<number | Int64> =
    t === DataType.FLOAT ? p.floatData
    : t === DataType.DOUBLE ? p.doubleData
    : t === DataType.INT64 ? p.int64Data
    : t === DataType.UINT32 || t === DataType.UINT64 ? p.uint64Data
    : p.int32Data;
  if (source.length !== n) throw mismatch(source.length);
  if (out instanceof BigInt64Array || out instanceof BigUint64Array) {
    const unsigned = out instanceof BigUint64Array;
    for (let i = 0; i < n; i++) out[i] = big(source[i] as Int64, unsigned);
  } else {
    // float16/bfloat16 travel in int32_data as their bit patterns: storing into Uint16Array keeps the bits.
    for (let i = 0; i < n; i++) out[i] = num(source[i] as Int64);
  }
  return out;
}

function readValueInfo(p: PValueInfo): ValueInfo {
  const v: ValueInfo = { name: p.name, elemType: DataType.UNDEFINED, shape: null };
  if (p.docString) v.docString = p.docString;
  const tt = p.type?.tensorType;
  if (tt) {
    v.elemType = tt.elemType as DataTypeId;
    v.shape = tt.shape ? tt.shape.dim.map((d): Dim => (isSet(d, 'dimValue') ? num(d.dimValue!) : d.dimParam ? d.dimParam : null)) : null;
  } else if (p.type) {
    v.typeProto = TypeProto.encode(p.type as unknown as protobuf.Message).finish();
  }
  return v;
}

/** protobufjs leaves unset oneof members on the prototype; only own properties were on the wire. */
function isSet(o: object, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(o, key);
}

function readAttribute(p: PAttribute, node: string): AttributeValue {
  const where = `attribute '${p.name}' of node '${node}'`;
  switch (p.type) {
    case AttributeType.FLOAT: return { type: 'float', value: p.f };
    case AttributeType.INT: return { type: 'int', value: num(p.i) };
    case AttributeType.STRING: return { type: 'string', value: utf8.decode(p.s) };
    case AttributeType.TENSOR:
      if (!p.t) throw new ModelFormatError(`${where} is a tensor attribute without a tensor`);
      return { type: 'tensor', value: readTensor(p.t, p.name) };
    case AttributeType.GRAPH:
      if (!p.g) throw new ModelFormatError(`${where} is a graph attribute without a graph`);
      return { type: 'graph', value: readGraph(p.g) };
    case AttributeType.FLOATS: return { type: 'floats', value: [...p.floats] };
    case AttributeType.INTS: return { type: 'ints', value: p.ints.map(num) };
    case AttributeType.STRINGS: return { type: 'strings', value: p.strings.map((b) => utf8.decode(b)) };
    case AttributeType.TENSORS: return { type: 'tensors', value: p.tensors.map((t) => readTensor(t, p.name)) };
    case AttributeType.GRAPHS: return { type: 'graphs', value: p.graphs.map(readGraph) };
    default:
      throw new ModelFormatError(`${where} has attribute type ${p.type}, which edgefit does not support`);
  }
}

function readNode(p: PNode, index: number): Node {
  const label = p.name || `#${index} (${p.opType})`;
  if (!p.opType) throw new ModelFormatError(`node ${label} has no op_type: the file is corrupt`);
  const attributes = new Map<string, AttributeValue>();
  for (const a of p.attribute) attributes.set(a.name, readAttribute(a, label));
  const node: Node = { name: p.name, opType: p.opType, domain: p.domain, inputs: [...p.input], outputs: [...p.output], attributes };
  if (p.docString) node.docString = p.docString;
  return node;
}

function readGraph(p: PGraph): Graph {
  const initializers = new Map<string, Tensor>();
  for (const t of p.initializer) {
    if (!t.name) throw new ModelFormatError('an initializer has no name: the file is corrupt');
    initializers.set(t.name, readTensor(t, t.name));
  }
  const graph: Graph = {
    name: p.name,
    nodes: p.node.map(readNode),
    inputs: p.input.map(readValueInfo),
    outputs: p.output.map(readValueInfo),
    valueInfo: p.valueInfo.map(readValueInfo),
    initializers,
  };
  if (p.docString) graph.docString = p.docString;
  if (p.sparseInitializer.length) graph.sparseInitializers = p.sparseInitializer.map((m) => SparseTensorProto.encode(m).finish());
  if (p.quantizationAnnotation.length) graph.quantizationAnnotations = p.quantizationAnnotation.map((m) => TensorAnnotation.encode(m).finish());
  return graph;
}

function decodeProto(bytes: Uint8Array): PModel {
  if (bytes.length === 0) throw new ModelFormatError('not an ONNX model: the file is empty');
  try {
    return ModelProto.decode(bytes) as unknown as PModel;
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    if (/index out of range/.test(why)) {
      throw new ModelFormatError(`not a complete ONNX model: the file ends in the middle of a record (truncated or corrupt; ${bytes.length} bytes)`);
    }
    throw new ModelFormatError(`not an ONNX model: the bytes are not an ONNX protobuf (${why})`);
  }
}

export function readModel(bytes: Uint8Array): Model {
  try {
    return convertModel(decodeProto(bytes));
  } catch (err) {
    if (err instanceof ModelFormatError) throw err;
    // Garbage that happens to decode can hand back values of the wrong shape.
    throw new ModelFormatError(`not an ONNX model: the decoded content is inconsistent (${err instanceof Error ? err.message : String(err)})`);
  }
}

function convertModel(p: PModel): Model {
  const irVersion = num(p.irVersion);
  if (!p.graph) {
    if (irVersion === 0 && p.opsetImport.length === 0) throw new ModelFormatError('not an ONNX model: no ir_version, opset or graph found in the bytes');
    throw new ModelFormatError('the ONNX model has no graph (ModelProto.graph is missing; the file may be truncated)');
  }
  if (irVersion <= 0 || irVersion > 64) throw new ModelFormatError(`not an ONNX model: implausible ir_version ${irVersion}`);
  const model: Model = {
    irVersion,
    opsetImports: p.opsetImport.map((o) => ({ domain: o.domain, version: num(o.version) })),
    producerName: p.producerName,
    producerVersion: p.producerVersion,
    domain: p.domain,
    modelVersion: num(p.modelVersion),
    docString: p.docString,
    metadata: new Map(p.metadataProps.map((e) => [e.key, e.value])),
    graph: readGraph(p.graph),
  };
  if (p.functions.length) model.functions = p.functions.map((m) => FunctionProto.encode(m).finish());
  if (p.trainingInfo.length) model.trainingInfo = p.trainingInfo.map((m) => TrainingInfoProto.encode(m).finish());
  return model;
}

/** A model file and its bytes (lineage hashes them); a missing, unreadable or broken file is a ModelFormatError naming it. */
export function readModelFileBytes(path: string): { bytes: Buffer; model: Model } {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    throw new ModelFormatError(`cannot read model file '${path}': ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  try {
    return { bytes, model: readModel(bytes) };
  } catch (err) {
    if (err instanceof ModelFormatError) throw new ModelFormatError(`${path}: ${err.message}`);
    throw err;
  }
}

export function readModelFile(path: string): Model {
  return readModelFileBytes(path).model;
}
