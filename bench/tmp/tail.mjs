import { readModelFile } from '../../dist/compress/onnx/read.js';
import { dequantizeModel } from '../../dist/compress/onnx/dequantize.js';
const m = dequantizeModel(await readModelFile('/work/shared/fixtures/models/yolov8n_int8_qdq.onnx')).model;
const nodes = m.graph?.nodes ?? m.nodes;
console.log(Object.keys(m), Object.keys(m.graph??{}));
for (const n of nodes.slice(-30)) console.log(n.opType, n.name, n.inputs.join(','), '->', n.outputs.join(','), JSON.stringify([...n.attributes].map(([k,v])=>[k,v])));
