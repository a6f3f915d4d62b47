import { describe, expect, it } from 'vitest';
import { activationRange, entropyThreshold, HISTOGRAM_BINS, percentileThreshold, resolveRanges, TensorStats, uint8Params, type RangeSource } from '../../../compress/quantize/ranges.js';
import { quantizeBias, quantizeWeight } from '../../../compress/quantize/qdq.js';
import { DataType } from '../../../compress/onnx/ir.js';

/** Deterministic normal samples (Box–Muller on a fixed LCG). */
function normals(n: number, seed = 1): Float32Array {
  let s = seed;
  const u = () => ((s = (s * 1664525 + 1013904223) >>> 0) + 0.5) / 2 ** 32;
  return Float32Array.from({ length: n }, () => Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u()));
}

function stats(data: Float32Array): TensorStats {
  const s = new TensorStats();
  s.observeRange(data);
  s.observeHistogram(data);
  return s;
}

describe('calibration ranges', () => {
  it('min/max keeps the extremes; uint8 params include zero and map the range onto 0..255', () => {
    const s = stats(Float32Array.from([-0.25, 0, 3, 5]));
    expect(activationRange(s, 'minmax')).toEqual({ min: -0.25, max: 5 });
    const p = uint8Params({ min: -0.25, max: 5 });
    expect(p.scale).toBeCloseTo(5.25 / 255, 9);
    expect(p.zeroPoint).toBe(Math.round(0.25 / p.scale));
    expect(uint8Params({ min: 1, max: 2 }).zeroPoint).toBe(0);
  });

  it('percentile clips a lone outlier but keeps the bulk', () => {
    const data = normals(100_000);
    data[0] = 100;
    const s = stats(data);
    const t = percentileThreshold(s.histogram, s.absMax, 99.9);
    expect(t).toBeGreaterThan(3);
    expect(t).toBeLessThan(5);
  });

  it('entropy clips the long tail of a gaussian with outliers, and keeps a uniform distribution whole', () => {
    const data = normals(200_000);
    data[0] = 60;
    const s = stats(data);
    const t = entropyThreshold(s.histogram, s.absMax, 128);
    expect(t).toBeGreaterThan(2.5);
    expect(t).toBeLessThan(20);
    const flat = new Float64Array(HISTOGRAM_BINS).fill(10);
    expect(entropyThreshold(flat, 1, 128)).toBeGreaterThan(0.95);
  });
});

describe('weight and bias quantization', () => {
  it('per-channel int8 weights are symmetric per output channel and round-trip within half a step', () => {
    const w = { name: 'w', dataType: DataType.FLOAT, dims: [2, 3], data: Float32Array.from([1, -0.5, 0.25, 10, -20, 5]) };
    const { q, scales } = quantizeWeight(w, true);
    expect(Array.from(scales)).toEqual([Math.fround(1 / 127), Math.fround(20 / 127)]);
    expect(q[0]).toBe(127);
    expect(q[4]).toBe(-127);
    const values = w.data;
    for (let i = 0; i < 6; i++) expect(Math.abs(q[i] * scales[Math.floor(i / 3)] - values[i])).toBeLessThanOrEqual(scales[Math.floor(i / 3)] / 2 + 1e-7);
    expect(quantizeWeight(w, false).scales.length).toBe(1);
  });

  it('int32 bias at input scale × weight scale', () => {
    const b = { name: 'b', dataType: DataType.FLOAT, dims: [2], data: Float32Array.from([0.5, -1]) };
    const { q, scales } = quantizeBias(b, 0.01, Float32Array.from([0.1, 0.2]));
    expect(Array.from(scales).map((s) => +s.toFixed(6))).toEqual([0.001, 0.002]);
    expect(Array.from(q)).toEqual([500, -500]);
  });
});

describe('ranges that follow from their producer', () => {
  it('Sigmoid maps the input range through σ, Concat takes the hull, Split/MaxPool/Resize copy the range exactly', () => {
    const sources = new Map<string, RangeSource>([
      ['y', { kind: 'calibrated' }],
      ['sig', { kind: 'sigmoid-of', tensor: 'y' }],
      ['s', { kind: 'calibrated' }],
      ['half', { kind: 'same-as', tensor: 's' }],
      ['cat', { kind: 'hull-of', tensors: ['half', 'y'] }],
    ]);
    const calibrated = new Map([['y', { min: -3, max: 2 }], ['s', { min: -0.25, max: 5 }]]);
    const r = resolveRanges(['y', 'sig', 's', 'half', 'cat'], sources, calibrated);
    expect(r.get('sig')!.min).toBeCloseTo(1 / (1 + Math.exp(3)), 12);
    expect(r.get('sig')!.max).toBeCloseTo(1 / (1 + Math.exp(-2)), 12);
    expect(r.get('half')).toEqual({ min: -0.25, max: 5 });
    // onnxruntime drops the Q/DQ of a copying op only when its parameters equal its input's
    expect(uint8Params(r.get('half')!)).toEqual(uint8Params(r.get('s')!));
    expect(r.get('cat')).toEqual({ min: -3, max: 5 });
  });

  it('refuses a range whose source comes later or was never measured', () => {
    expect(() => resolveRanges(['sig', 'y'], new Map<string, RangeSource>([['sig', { kind: 'sigmoid-of', tensor: 'y' }]]), new Map([['y', { min: 0, max: 1 }]]))).toThrow(/follows from 'y'/);
    expect(() => resolveRanges(['z'], new Map(), new Map())).toThrow(/no calibration range for 'z'/);
  });
});
