// Activations of chosen tensors on calibration images: per-channel statistics
// over every position, plus a fixed random subset of spatial positions
// (the same for every channel) kept as sample rows for the regressions of
// recovery. One onnxruntime session serves all images.
import ort from 'onnxruntime-node';
import type { Model } from '../onnx/ir.js';
import { createSession, withExtraOutputs } from '../onnx/session.js';
import type { ChannelActivity } from './importance.js';

export interface SampledActivations {
  channels: number;
  /** Per input: rows of `channels` values, one row per sampled position. */
  rows: Float32Array[];
  /** Per input: its cross-validation fold (the source image). */
  folds: number[];
  activity: ChannelActivity;
}

export interface CollectOptions {
  /** Sampled positions per image and tensor (all of them when the map is smaller). */
  positions?: number;
  seed?: number;
  /** Fold of every input (default: each its own). */
  folds?: readonly number[];
  onImage?: (done: number, total: number) => void;
}

/** Distinct indices in [0, n), `k` of them, seeded (partial Fisher–Yates). */
export function samplePositions(n: number, k: number, seed: number): Int32Array {
  if (k >= n) return Int32Array.from({ length: n }, (_, i) => i);
  const idx = Int32Array.from({ length: n }, (_, i) => i);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < k; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    const j = i + ((s >>> 0) % (n - i));
    const t = idx[i];
    idx[i] = idx[j];
    idx[j] = t;
  }
  return idx.slice(0, k).sort();
}

export async function collectActivations(model: Model, inputs: readonly Float32Array[], size: number, names: readonly string[], options: CollectOptions = {}): Promise<Map<string, SampledActivations>> {
  const out = new Map<string, SampledActivations>();
  if (names.length === 0) return out;
  const positions = options.positions ?? 1024;
  const inputName = model.graph.inputs.find((i) => !model.graph.initializers.has(i.name))!.name;
  const session = await createSession(withExtraOutputs(model, names));
  try {
    for (const [img, data] of inputs.entries()) {
      const result = (await session.run({ [inputName]: new ort.Tensor('float32', data, [1, 3, size, size]) }, [...names])) as Record<string, ort.Tensor>;
      names.forEach((name, k) => {
        const t = result[name];
        const x = t.data as Float32Array;
        const c = Number(t.dims[1]);
        const hw = x.length / c;
        let entry = out.get(name);
        if (!entry) {
          entry = { channels: c, rows: [], folds: [], activity: { meanAbs: new Float64Array(c), positive: new Float64Array(c) } };
          out.set(name, entry);
        }
        for (let ch = 0; ch < c; ch++) {
          let abs = 0, pos = 0;
          const base = ch * hw;
          for (let i = 0; i < hw; i++) {
            const v = x[base + i];
            abs += Math.abs(v);
            if (v > 0) pos++;
          }
          entry.activity.meanAbs[ch] += abs / hw / inputs.length;
          entry.activity.positive[ch] += pos / hw / inputs.length;
        }
        const picks = samplePositions(hw, positions, (options.seed ?? 1) * 131 + img * 7 + k);
        const rows = new Float32Array(picks.length * c);
        for (let ch = 0; ch < c; ch++) {
          const base = ch * hw;
          for (let r = 0; r < picks.length; r++) rows[r * c + ch] = x[base + picks[r]];
        }
        entry.rows.push(rows);
        entry.folds.push(options.folds?.[img] ?? img);
      });
      options.onImage?.(img + 1, inputs.length);
    }
  } finally {
    await session.release();
  }
  return out;
}
