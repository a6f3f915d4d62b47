// Element-level facts about ONNX data types: storage class, byte width, names,
// and conversion of any numeric tensor to float for maths and statistics.
import { DataType, numel, type DataTypeId, type Tensor, type TensorData } from './ir.js';

type NumericArrayCtor =
  | Float32ArrayConstructor
  | Float64ArrayConstructor
  | Int8ArrayConstructor
  | Uint8ArrayConstructor
  | Int16ArrayConstructor
  | Uint16ArrayConstructor
  | Int32ArrayConstructor
  | Uint32ArrayConstructor
  | BigInt64ArrayConstructor
  | BigUint64ArrayConstructor;

const storage: Partial<Record<number, NumericArrayCtor>> = {
  [DataType.FLOAT]: Float32Array,
  [DataType.UINT8]: Uint8Array,
  [DataType.INT8]: Int8Array,
  [DataType.UINT16]: Uint16Array,
  [DataType.INT16]: Int16Array,
  [DataType.INT32]: Int32Array,
  [DataType.INT64]: BigInt64Array,
  [DataType.BOOL]: Uint8Array,
  [DataType.FLOAT16]: Uint16Array,
  [DataType.DOUBLE]: Float64Array,
  [DataType.UINT32]: Uint32Array,
  [DataType.UINT64]: BigUint64Array,
  [DataType.BFLOAT16]: Uint16Array,
};

const names: Record<number, string> = {
  0: 'undefined', 1: 'float32', 2: 'uint8', 3: 'int8', 4: 'uint16', 5: 'int16', 6: 'int32', 7: 'int64',
  8: 'string', 9: 'bool', 10: 'float16', 11: 'float64', 12: 'uint32', 13: 'uint64', 14: 'complex64',
  15: 'complex128', 16: 'bfloat16', 17: 'float8e4m3fn', 18: 'float8e4m3fnuz', 19: 'float8e5m2',
  20: 'float8e5m2fnuz', 21: 'uint4', 22: 'int4', 23: 'float4e2m1',
};

export function dataTypeName(t: number): string {
  return names[t] ?? `type${t}`;
}

/** The typed-array class holding elements of a numeric data type, or undefined (string, exotic types). */
export function storageOf(t: number): NumericArrayCtor | undefined {
  return storage[t];
}

export function isSupportedDataType(t: number): t is DataTypeId {
  return t === DataType.STRING || storage[t] !== undefined;
}

export function bytesPerElement(t: number): number {
  return storage[t]?.BYTES_PER_ELEMENT ?? 0;
}

export function allocate(t: DataTypeId, n: number): TensorData {
  if (t === DataType.STRING) return new Array<string>(n).fill('');
  const ctor = storage[t];
  if (!ctor) throw new Error(`no storage for ONNX data type ${dataTypeName(t)}`);
  return new ctor(n);
}

/** IEEE half-precision bits to a number. */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

export function bfloat16ToFloat(b: number): number {
  u32[0] = b << 16;
  return f32[0];
}

/** Any numeric tensor as float32 values (float16/bfloat16 decoded from their bits). */
export function toFloat32(t: Tensor): Float32Array {
  const d = t.data;
  if (Array.isArray(d)) throw new Error(`tensor '${t.name}' holds strings, not numbers`);
  if (t.dataType === DataType.FLOAT) return d as Float32Array;
  const out = new Float32Array(d.length);
  if (t.dataType === DataType.FLOAT16) for (let i = 0; i < d.length; i++) out[i] = halfToFloat(d[i] as number);
  else if (t.dataType === DataType.BFLOAT16) for (let i = 0; i < d.length; i++) out[i] = bfloat16ToFloat(d[i] as number);
  else for (let i = 0; i < d.length; i++) out[i] = Number(d[i]);
  return out;
}

/** Any integer tensor as plain numbers (int64 values beyond 2^53 lose precision, clamped shapes never reach that). */
export function toNumbers(t: Tensor): number[] {
  const d = t.data;
  if (Array.isArray(d)) throw new Error(`tensor '${t.name}' holds strings, not numbers`);
  const out = new Array<number>(d.length);
  for (let i = 0; i < d.length; i++) out[i] = Number(d[i]);
  return out;
}

export function tensorBytes(t: Tensor): number {
  if (Array.isArray(t.data)) return t.data.reduce((s, x) => s + Buffer.byteLength(x), 0);
  return numel(t.dims) * bytesPerElement(t.dataType);
}
