// Activation statistics of chosen tensors over calibration images, read from
// onnxruntime runs that expose the tensors as extra outputs. Tensors are
// grouped so one run's outputs stay within a memory budget; min/max is one pass
// over the images, the histogram methods need a second pass with the bins
// fixed by the first.
import ort from 'onnxruntime-node';
import type { CalibrationSet } from '../calibration.js';
import { numel, type Model } from '../onnx/ir.js';
import { createSession, withExtraOutputs } from '../onnx/session.js';
import { inferShapes } from '../onnx/shapes.js';
import { activationRange, ENTROPY_LEVELS, TensorStats, type CalibrationMethod, type Range } from './ranges.js';
import { codedError } from '../../protocol/errors.js';

/** Bytes of float32 intermediates one run may return at once. */
const RUN_BUDGET_BYTES = 512 * 2 ** 20;

export class CalibrationRunError extends codedError('E_CALIBRATION_RUN') {
  override name = 'CalibrationRunError';
}

/** Tensors split into groups whose float32 sizes (from shape inference) fit the budget. */
export function groupTensors(model: Model, tensors: readonly string[], budgetBytes = RUN_BUDGET_BYTES): string[][] {
  const types = inferShapes(model);
  const groups: string[][] = [];
  let current: string[] = [];
  let bytes = 0;
  for (const name of tensors) {
    const shape = types.get(name)?.shape;
    const size = shape && shape.every((d): d is number => typeof d === 'number') ? numel(shape) * 4 : budgetBytes;
    if (current.length > 0 && bytes + size > budgetBytes) {
      groups.push(current);
      current = [];
      bytes = 0;
    }
    current.push(name);
    bytes += size;
  }
  if (current.length > 0) groups.push(current);
  return groups;
}

async function forEachActivation(
  model: Model,
  group: readonly string[],
  calibration: CalibrationSet,
  visit: (name: string, data: Float32Array) => void,
): Promise<void> {
  const inputName = model.graph.inputs.find((i) => !model.graph.initializers.has(i.name))?.name;
  if (!inputName) throw new CalibrationRunError('the model has no image input');
  const session = await createSession(withExtraOutputs(model, group));
  try {
    const dims = [1, 3, calibration.size, calibration.size];
    for (const input of calibration.inputs) {
      const out = await session.run({ [inputName]: new ort.Tensor('float32', input, dims) }, [...group]);
      for (const name of group) {
        const t = out[name];
        if (t.type !== 'float32') throw new CalibrationRunError(`tensor '${name}' is ${t.type}, only float32 activations can be calibrated`);
        visit(name, t.data as Float32Array);
      }
    }
  } finally {
    await session.release();
  }
}

/** Quantization ranges of `tensors` (float activations of `model`) from the calibration images. */
export async function calibrateRanges(
  model: Model,
  tensors: readonly string[],
  calibration: CalibrationSet,
  method: CalibrationMethod,
  activationType: keyof typeof ENTROPY_LEVELS = 'uint8',
): Promise<Map<string, Range>> {
  if (calibration.inputs.length === 0) throw new CalibrationRunError('no calibration images');
  const stats = new Map(tensors.map((t) => [t, new TensorStats()]));
  const groups = groupTensors(model, tensors);
  for (const group of groups) {
    await forEachActivation(model, group, calibration, (name, data) => stats.get(name)!.observeRange(data));
    if (method !== 'minmax') {
      await forEachActivation(model, group, calibration, (name, data) => stats.get(name)!.observeHistogram(data));
    }
  }
  const ranges = new Map<string, Range>();
  for (const [name, s] of stats) {
    if (!Number.isFinite(s.min) || !Number.isFinite(s.max)) throw new CalibrationRunError(`tensor '${name}' produced non-finite values on the calibration images`);
    ranges.set(name, activationRange(s, method, ENTROPY_LEVELS[activationType]));
  }
  return ranges;
}
