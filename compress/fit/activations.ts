// Intermediate activations of a model on calibration images, one image at a
// time so only the values the caller keeps stay in memory.
import ort from 'onnxruntime-node';
import type { Model } from '../onnx/ir.js';
import { createSession, truncatedTo } from '../onnx/session.js';
import type { CalibrationSet } from '../calibration.js';

export interface Float32Tensor4 {
  data: Float32Array;
  dims: [number, number, number, number];
}

/** Runs the part of `model` that `names` need on every calibration image and hands `visit` those NCHW values. */
export async function forEachActivation(
  model: Model,
  calibration: CalibrationSet,
  names: readonly string[],
  visit: (image: number, values: Map<string, Float32Tensor4>) => void,
): Promise<void> {
  if (names.length === 0) return;
  const input = model.graph.inputs.find((i) => !model.graph.initializers.has(i.name));
  if (!input) throw new Error('the model has no image input');
  const session = await createSession(truncatedTo(model, names));
  try {
    for (let i = 0; i < calibration.inputs.length; i++) {
      const feeds = { [input.name]: new ort.Tensor('float32', calibration.inputs[i], [1, 3, calibration.size, calibration.size]) };
      const out = (await session.run(feeds, [...names])) as Record<string, ort.Tensor>;
      const values = new Map<string, Float32Tensor4>();
      for (const name of names) {
        const t = out[name];
        if (t.type !== 'float32' || t.dims.length !== 4) throw new Error(`activation '${name}' is ${t.type} [${t.dims.join(',')}], expected float32 NCHW`);
        values.set(name, { data: t.data as Float32Array, dims: t.dims as [number, number, number, number] });
      }
      visit(i, values);
    }
  } finally {
    await session.release();
  }
}
