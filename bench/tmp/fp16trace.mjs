import { readModelFile } from '../../dist/compress/onnx/read.js';
import { dequantizeModel } from '../../dist/compress/onnx/dequantize.js';
import { convertToFp16 } from '../../dist/compress/fp16.js';
import { resizeModel } from '../../dist/compress/resize.js';
import { writeModel } from '../../dist/compress/onnx/write.js';
import { parseTrace } from '../../dist/compress/latency/trace.js';
import ort from 'onnxruntime-node';
import fs from 'node:fs';
const f = dequantizeModel(readModelFile('/work/shared/fixtures/models/yolov8n_int8_qdq.onnx')).model;
const m = convertToFp16(resizeModel(f, 320).model).model;
console.log('model nodes sample', m.graph.nodes.filter(n=>n.opType==='Conv').slice(0,3).map(n=>n.name+' '+n.outputs), m.graph.nodes.filter(n=>n.opType==='Cast').length);
const s = await ort.InferenceSession.create(writeModel(m), { intraOpNumThreads:1, enableProfiling:true, profileFilePrefix:'/tmp/fp16tr' });
const feed = { [s.inputNames[0]]: new ort.Tensor('float32', new Float32Array(3*320*320).fill(0.5), [1,3,320,320]) };
for (let i=0;i<3;i++) await s.run(feed);
s.endProfiling(); await s.release(); const file = '/tmp/'+fs.readdirSync('/tmp').filter(f=>f.startsWith('fp16tr')).sort().pop();
const t = parseTrace(JSON.parse(fs.readFileSync(file,'utf8')), 1);
const byOp = {};
for (const n of t.nodes) { (byOp[n.op] ??= []).push(n.name); }
for (const [k,v] of Object.entries(byOp)) console.log(k, v.length, v.slice(0,3));
