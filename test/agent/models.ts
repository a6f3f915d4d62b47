// Model files for the agent suites: builder-made YOLOv8n, the float YOLOv8n
// rebuilt from the QDQ fixture, and models onnxruntime refuses.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { dequantizeModel } from '../../compress/onnx/dequantize.js';
import { DataType, int64Tensor, type Model } from '../../compress/onnx/ir.js';
import { readModelFile } from '../../compress/onnx/read.js';
import { writeModelFile } from '../../compress/onnx/write.js';
import { buildYolov8 } from '../../compress/yolo/builder.js';
import { fixture } from '../fixtures.js';
import { testModel } from '../helpers/model.js';

export function builtYolov8n(dir: string, imgsz: number, seed = 0): string {
  const file = path.join(dir, `yolov8n-${imgsz}-${seed}.onnx`);
  writeModelFile(buildYolov8({ scale: 'n', imgsz, seed }), file);
  return file;
}

/** The float YOLOv8n rebuilt from the int8 QDQ fixture (needs ../shared/fixtures). */
export function fixtureFloatYolov8n(dir: string): string {
  const file = path.join(dir, 'yolov8n-float.onnx');
  writeModelFile(dequantizeModel(readModelFile(fixture('models', 'yolov8n_int8_qdq.onnx'))).model, file);
  return file;
}

export function garbageModel(dir: string): string {
  const file = path.join(dir, 'garbage.onnx');
  writeFileSync(file, Buffer.from('this is not an onnx model, just bytes that claim to be one\n'.repeat(40)));
  return file;
}

/**
 * Structurally valid ONNX with an image input, whose Reshape asks for 7×5
 * elements out of 3·32·32: onnxruntime throws on it.
 */
export function impossibleReshapeModel(dir: string): string {
  const model: Model = testModel({
    name: 'impossible-reshape',
    nodes: [{ name: 'reshape', opType: 'Reshape', domain: '', inputs: ['images', 'shape'], outputs: ['output0'], attributes: new Map() }],
    inputs: [{ name: 'images', elemType: DataType.FLOAT, shape: [1, 3, 32, 32] }],
    outputs: [{ name: 'output0', elemType: DataType.FLOAT, shape: null }],
    valueInfo: [],
    initializers: new Map([['shape', int64Tensor('shape', [7, 5])]]),
  });
  const file = path.join(dir, 'impossible-reshape.onnx');
  writeModelFile(model, file);
  return file;
}
