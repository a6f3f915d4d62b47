// IR → ONNX file. Every tensor is written as raw_data (little-endian, the
// ONNX convention), string tensors as string_data; opaque parts the IR keeps
// as encoded bytes are decoded back into the message tree unchanged.
import { chmodSync, realpathSync, renameSync, rmSync, statSync, writeFileSync, type Stats } from 'node:fs';
import path from 'node:path';
import { DataType, type AttributeValue, type Graph, type Model, type Node, type Tensor, type ValueInfo } from './ir.js';
import { AttributeType, FunctionProto, ModelProto, SparseTensorProto, TensorAnnotation, TrainingInfoProto, TypeProto } from './schema.js';

interface Int64Bits { low: number; high: number; unsigned: boolean }
type Int64Out = number | Int64Bits;

const TWO_63 = 2 ** 63;

/**
 * int64 for protobufjs. Numbers at ±2^63 (INT64_MAX read back as a double)
 * would wrap to INT64_MIN; they are written as the saturated bit patterns.
 */
function int64(v: number): Int64Out {
  if (v >= TWO_63) return { low: 0xffffffff, high: 0x7fffffff, unsigned: false };
  if (v <= -TWO_63) return { low: 0, high: 0x80000000 | 0, unsigned: false };
  return v;
}

const utf8 = new TextEncoder();

function writeTensor(t: Tensor): Record<string, unknown> {
  const out: Record<string, unknown> = { name: t.name, dataType: t.dataType, dims: t.dims.map(int64) };
  if (t.docString) out.docString = t.docString;
  if (Array.isArray(t.data)) {
    if (t.dataType !== DataType.STRING) throw new Error(`tensor '${t.name}' holds strings but is typed ${t.dataType}`);
    out.stringData = t.data.map((s) => utf8.encode(s));
  } else {
    const d = t.data;
    // Node and every target device are little-endian, as raw_data requires.
    out.rawData = new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
  }
  return out;
}

function writeValueInfo(v: ValueInfo): Record<string, unknown> {
  const out: Record<string, unknown> = { name: v.name };
  if (v.docString) out.docString = v.docString;
  if (v.typeProto) {
    out.type = TypeProto.decode(v.typeProto);
  } else if (v.elemType !== DataType.UNDEFINED || v.shape !== null) {
    const tensorType: Record<string, unknown> = { elemType: v.elemType };
    if (v.shape) {
      tensorType.shape = {
        dim: v.shape.map((d) => (typeof d === 'number' ? { dimValue: int64(d) } : typeof d === 'string' ? { dimParam: d } : {})),
      };
    }
    out.type = { tensorType };
  }
  return out;
}

function writeAttribute(name: string, a: AttributeValue): Record<string, unknown> {
  switch (a.type) {
    case 'float': return { name, type: AttributeType.FLOAT, f: a.value };
    case 'int': return { name, type: AttributeType.INT, i: int64(a.value) };
    case 'string': return { name, type: AttributeType.STRING, s: utf8.encode(a.value) };
    case 'tensor': return { name, type: AttributeType.TENSOR, t: writeTensor(a.value) };
    case 'graph': return { name, type: AttributeType.GRAPH, g: writeGraph(a.value) };
    case 'floats': return { name, type: AttributeType.FLOATS, floats: a.value };
    case 'ints': return { name, type: AttributeType.INTS, ints: a.value.map(int64) };
    case 'strings': return { name, type: AttributeType.STRINGS, strings: a.value.map((s) => utf8.encode(s)) };
    case 'tensors': return { name, type: AttributeType.TENSORS, tensors: a.value.map(writeTensor) };
    case 'graphs': return { name, type: AttributeType.GRAPHS, graphs: a.value.map(writeGraph) };
  }
}

function writeNode(n: Node): Record<string, unknown> {
  const out: Record<string, unknown> = {
    input: n.inputs,
    output: n.outputs,
    name: n.name,
    opType: n.opType,
    attribute: [...n.attributes].map(([k, v]) => writeAttribute(k, v)),
  };
  if (n.domain) out.domain = n.domain;
  if (n.docString) out.docString = n.docString;
  return out;
}

function writeGraph(g: Graph): Record<string, unknown> {
  const out: Record<string, unknown> = {
    node: g.nodes.map(writeNode),
    name: g.name,
    initializer: [...g.initializers.values()].map(writeTensor),
    input: g.inputs.map(writeValueInfo),
    output: g.outputs.map(writeValueInfo),
    valueInfo: g.valueInfo.map(writeValueInfo),
  };
  if (g.docString) out.docString = g.docString;
  if (g.sparseInitializers) out.sparseInitializer = g.sparseInitializers.map((b) => SparseTensorProto.decode(b));
  if (g.quantizationAnnotations) out.quantizationAnnotation = g.quantizationAnnotations.map((b) => TensorAnnotation.decode(b));
  return out;
}

export function writeModel(model: Model): Uint8Array {
  const out: Record<string, unknown> = {
    irVersion: int64(model.irVersion),
    opsetImport: model.opsetImports.map((o) => ({ domain: o.domain, version: int64(o.version) })),
    producerName: model.producerName,
    producerVersion: model.producerVersion,
    domain: model.domain,
    modelVersion: int64(model.modelVersion),
    docString: model.docString,
    graph: writeGraph(model.graph),
    metadataProps: [...model.metadata].map(([key, value]) => ({ key, value })),
  };
  if (model.functions) out.functions = model.functions.map((b) => FunctionProto.decode(b));
  if (model.trainingInfo) out.trainingInfo = model.trainingInfo.map((b) => TrainingInfoProto.decode(b));
  return ModelProto.encode(out).finish();
}

/**
 * Writes beside `file` and renames into place, so a full disk or a size limit
 * never leaves a truncated model at `file` (nor destroys the one already there).
 * A symlink is written through to its target, keeping the target's mode; a
 * FIFO or device (`-o /dev/stdout`) is written to directly, since replacing
 * it would not be writing to it. Returns the bytes written.
 */
export function writeModelFile(model: Model, file: string): Uint8Array {
  const bytes = writeModel(model);
  let target = file;
  let stat: Stats | undefined;
  try {
    target = realpathSync(file);
    stat = statSync(target);
  } catch {
    // not there yet: the usual case
  }
  if (stat && !stat.isFile()) {
    writeFileSync(target, bytes);
    return bytes;
  }
  const tmp = path.join(path.dirname(target), `.${path.basename(target)}.${process.pid}.tmp`);
  try {
    writeFileSync(tmp, bytes);
    if (stat) chmodSync(tmp, stat.mode & 0o7777);
    renameSync(tmp, target);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
  return bytes;
}
