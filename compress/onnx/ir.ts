// The in-memory form of an ONNX model that every edit in compress/ works on.
// Plain data: read.ts builds it from protobuf, write.ts turns it back, graph.ts
// answers structural questions (producers, consumers, order) about it.

/** ONNX TensorProto.DataType numbers. */
export const DataType = {
  UNDEFINED: 0,
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  UINT16: 4,
  INT16: 5,
  INT32: 6,
  INT64: 7,
  STRING: 8,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
  UINT32: 12,
  UINT64: 13,
  BFLOAT16: 16,
} as const;
export type DataTypeId = (typeof DataType)[keyof typeof DataType];

/**
 * Element storage per data type. float16 and bfloat16 keep their raw bits in a
 * Uint16Array, so a read-write round trip never rounds a value.
 */
export type TensorData =
  | Float32Array
  | Float64Array
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array
  | string[];

export interface Tensor {
  name: string;
  dataType: DataTypeId;
  dims: number[];
  data: TensorData;
  docString?: string;
}

export type AttributeValue =
  | { type: 'float'; value: number }
  | { type: 'int'; value: number }
  | { type: 'string'; value: string }
  | { type: 'tensor'; value: Tensor }
  | { type: 'graph'; value: Graph }
  | { type: 'floats'; value: number[] }
  | { type: 'ints'; value: number[] }
  | { type: 'strings'; value: string[] }
  | { type: 'tensors'; value: Tensor[] }
  | { type: 'graphs'; value: Graph[] };

export interface Node {
  name: string;
  opType: string;
  /** '' is the default ai.onnx domain. */
  domain: string;
  /** '' marks an omitted optional input, as in ONNX. */
  inputs: string[];
  outputs: string[];
  attributes: Map<string, AttributeValue>;
  docString?: string;
}

/** A dimension is a number, a symbolic name, or null when unknown. */
export type Dim = number | string | null;

export interface ValueInfo {
  name: string;
  elemType: DataTypeId;
  /** null when the shape itself is unknown (not just its dims). */
  shape: Dim[] | null;
  docString?: string;
  /**
   * Encoded TypeProto for values that are not plain tensors (sequence, map,
   * optional, sparse): kept opaque so a round trip does not lose them.
   */
  typeProto?: Uint8Array;
}

export interface Graph {
  name: string;
  nodes: Node[];
  inputs: ValueInfo[];
  outputs: ValueInfo[];
  /** Shapes of intermediate values, as stored in the file or from shape inference. */
  valueInfo: ValueInfo[];
  initializers: Map<string, Tensor>;
  docString?: string;
  /** Encoded SparseTensorProto initializers, kept opaque. */
  sparseInitializers?: Uint8Array[];
  /** Encoded TensorAnnotation entries (quantization_annotation), kept opaque. */
  quantizationAnnotations?: Uint8Array[];
}

export interface OpsetImport {
  domain: string;
  version: number;
}

export interface Model {
  irVersion: number;
  opsetImports: OpsetImport[];
  producerName: string;
  producerVersion: string;
  domain: string;
  modelVersion: number;
  docString: string;
  /** metadata_props in file order; ultralytics stores names, imgsz, stride, task here. */
  metadata: Map<string, string>;
  graph: Graph;
  /** Encoded model-local FunctionProto entries, kept opaque. */
  functions?: Uint8Array[];
  /** Encoded TrainingInfoProto entries, kept opaque. */
  trainingInfo?: Uint8Array[];
}

/** The ONNX default operator domain, which a model may write as '' or 'ai.onnx'. */
export const isDefaultDomain = (domain: string): boolean => domain === '' || domain === 'ai.onnx';

export function attr(node: Node, name: string): AttributeValue | undefined {
  return node.attributes.get(name);
}

export function intAttr(node: Node, name: string, fallback: number): number {
  const a = node.attributes.get(name);
  return a?.type === 'int' ? a.value : fallback;
}

export function floatAttr(node: Node, name: string, fallback: number): number {
  const a = node.attributes.get(name);
  return a?.type === 'float' ? a.value : fallback;
}

export function intsAttr(node: Node, name: string, fallback: number[]): number[] {
  const a = node.attributes.get(name);
  return a?.type === 'ints' ? a.value : fallback;
}

export function stringAttr(node: Node, name: string, fallback: string): string {
  const a = node.attributes.get(name);
  return a?.type === 'string' ? a.value : fallback;
}

export function numel(dims: readonly number[]): number {
  let n = 1;
  for (const d of dims) n *= d;
  return n;
}

export function floatTensor(name: string, dims: number[], data?: Float32Array): Tensor {
  return { name, dataType: DataType.FLOAT, dims, data: data ?? new Float32Array(numel(dims)) };
}

export function int64Tensor(name: string, values: readonly number[], dims: number[] = [values.length]): Tensor {
  return { name, dataType: DataType.INT64, dims, data: BigInt64Array.from(values.map((v) => BigInt(v))) };
}
