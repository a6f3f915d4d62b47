// The command table. Each entry loads its module only when run, so
// `edgefit --help` and every command start without importing onnxruntime,
// fastify or the broker they do not need.

export interface CommandModule {
  /** Runs the command with the arguments after its name; resolves to an exit status. */
  run(argv: string[]): Promise<number | void>;
}

export interface CommandSpec {
  /** One or more words: 'up', 'devices add', 'model info'. */
  name: string;
  usage: string;
  summary: string;
  load: () => Promise<CommandModule>;
}

/** Flags of every command that talks to a running controller's HTTP API. */
const API = '[--controller URL] [--data DIR]';

export const commands: CommandSpec[] = [
  { name: 'up', usage: 'up [--model FILE] [--port 8080] [--host H] [--mqtt-port 1883 | --broker URL] [--data DIR] [--heartbeat 10]', summary: 'controller + embedded broker + a local agent for this machine', load: () => import('./up.js') },
  { name: 'controller', usage: 'controller [--broker URL] [--mqtt-port 1883] [--port 8080] [--host H] [--data DIR]', summary: 'run the controller (embedded MQTT broker unless --broker)', load: () => import('./controller.js') },
  { name: 'agent', usage: 'agent --broker URL --id NAME --token TOKEN [--controller URL [--controller-key FILE] [--cache-cap-mb 2048]] [--state DIR] [--heartbeat 10] [--keepalive 15] [--threads N] [--frames DIR] [--class-salt S]', summary: 'run the on-device agent (models from --controller are signature-checked against its pinned key)', load: () => import('./agent.js') },
  { name: 'devices', usage: `devices [--json] ${API}`, summary: 'list registered devices', load: () => import('./devices.js') },
  { name: 'devices add', usage: `devices add NAME [--label k=v]... [--json] ${API}`, summary: 'register a device and print its token', load: async () => ({ run: (await import('./devices.js')).add }) },
  { name: 'devices label', usage: `devices label ID key=value [key=value...] [--json] ${API}`, summary: "set labels on a device ('key=' removes one)", load: async () => ({ run: (await import('./devices.js')).label }) },
  { name: 'broker-config', usage: 'broker-config --out DIR [--data DIR] [--config-dir PATH] [--port 1883]', summary: 'write Mosquitto passwd, ACL and config for the registered devices', load: () => import('./broker-config.js') },
  { name: 'models', usage: `models [--json] ${API}`, summary: 'base models and their candidate ladders (cost, precision, accuracy and where it comes from)', load: () => import('./models.js') },
  { name: 'models add', usage: `models add FILE [--calib DIR] [--eval DIR] [--ladder default|quick] [--sizes 640,512] [--name N] [--wait] [--json] ${API}`, summary: 'upload a base model and build its candidate ladder in the background', load: async () => ({ run: (await import('./models.js')).add }) },
  { name: 'candidates import', usage: `candidates import FILE --method NAME --declared-map50-95 X [--source TEXT] [--model ID] [--name N] [--json] ${API}`, summary: 'add a candidate made elsewhere, with its declared accuracy (shown as declared)', load: () => import('./candidates.js') },
  { name: 'rollout create', usage: `rollout create SPEC [--json] ${API}`, summary: 'start a staged rollout from a YAML/JSON spec (see deploy/examples/rollout.yaml)', load: async () => ({ run: (await import('./rollout.js')).create }) },
  { name: 'rollout status', usage: `rollout status [ID] [--json] ${API}`, summary: 'rollout progress: each device with its candidate, the explanation and live FPS; profiles needed per class', load: async () => ({ run: (await import('./rollout.js')).status }) },
  { name: 'rollout pause', usage: `rollout pause ID [--json] ${API}`, summary: 'pause a rollout (in-flight devices finish their step)', load: async () => ({ run: (await import('./rollout.js')).pause }) },
  { name: 'rollout resume', usage: `rollout resume ID [--json] ${API}`, summary: 'resume a paused rollout', load: async () => ({ run: (await import('./rollout.js')).resume }) },
  { name: 'rollout abort', usage: `rollout abort ID [--json] ${API}`, summary: 'abort a rollout and roll back every device it deployed to', load: async () => ({ run: (await import('./rollout.js')).abort }) },
  { name: 'profile', usage: 'profile MODEL [--duration S] [--runs N] [--warmup N] [--threads N|--threads-sweep 1,2,4] [--sustained [S]] [--ep cpu] [--max-temp C] [--frames DIR] [--timeout S] [--json]', summary: 'profile a model on this machine in an isolated process: latency percentiles, FPS, memory, temperature, throttling', load: () => import('./profile.js') },
  { name: 'detect', usage: 'detect MODEL IMAGE... [--conf 0.25] [--iou 0.45] [--json]', summary: 'detect objects in JPEG/PNG images (predict defaults: conf 0.25, NMS IoU 0.45)', load: () => import('./detect.js') },
  { name: 'eval', usage: 'eval MODEL --data DIR [--baseline MODEL] [--conf 0.001] [--iou 0.7] [--json]', summary: 'mAP50 / mAP50-95 on a YOLO dataset (val defaults: conf 0.001, NMS IoU 0.7); --baseline adds fidelity to that model (its boxes at conf 0.25 as ground truth)', load: () => import('./eval.js') },
  { name: 'model info', usage: 'model info FILE [--json]', summary: 'inputs, outputs, opset, op histogram, parameters, GFLOPs, weight format and Ultralytics metadata of an ONNX model', load: () => import('./model-info.js') },
  { name: 'model build', usage: 'model build yolov8{n,s,m,l,x}[-p2|-p6] [--nc 80] [--imgsz 640] [--seed S] -o OUT [--json]', summary: 'build a synthetic YOLOv8 ONNX model (seeded weights, for latency and compression tests)', load: () => import('./model-build.js') },
  { name: 'model dequantize', usage: 'model dequantize FILE -o OUT [--json]', summary: 'turn a QDQ or dynamic int8 ONNX model back into a float model (weights dequantized, Q/DQ pairs removed)', load: () => import('./model-dequantize.js') },
  { name: 'model fp16', usage: 'model fp16 MODEL -o OUT [--keep-io-float] [--json]', summary: 'float16 weights and compute with float32 inputs and outputs', load: () => import('./model-fp16.js') },
  { name: 'model resize', usage: 'model resize MODEL --imgsz S -o OUT [--json]', summary: 'the same detector at another input size (Detect anchors, strides and reshapes regenerated)', load: () => import('./model-resize.js') },
  { name: 'quantize', usage: 'quantize MODEL --calib DIR [--method minmax|percentile|entropy] [--per-channel] [--exclude PATTERN]... -o OUT [--json]', summary: 'static int8 QDQ model calibrated on images (QLinearConv on onnxruntime CPU); detection head outputs stay float', load: () => import('./quantize.js') },
  { name: 'prune', usage:
      'prune MODEL --method l1|l2|fpgm|lamp|random|group_norm|apoz|mean_act (--ratio R | --flops-cut F) [--global] [--reduction mean|sum|max] ' +
      '[--round-to 8] [--max-layer-ratio 0.9] [--ignore PATTERN]... [--seed S] [--calib DIR [--views N]] [--reconstruct] [--recovery substitution|bias|refit] [--no-recalibrate] ' +
      '[--sensitivity] [--cache DIR] [--unstructured] -o OUT [--json]', summary: 'structured channel pruning on the ONNX graph, with recovery from calibration images (no training) and sensitivity-aware allocation', load: () => import('./prune.js') },
  { name: 'factorize', usage: 'factorize MODEL --method spatial|dws|lowrank|grouped --flops-cut F [--calib DIR] [--refit] [--weight-svd] [--no-recalibrate] [--min-channels 64] [--sensitivity] -o OUT [--json]', summary: 'replace k×k convs by SVD factorizations (1×k+k×1, depthwise-separable, low-rank, grouped) to a FLOPs cut, with optional ridge refit and statistics recalibration from calibration images', load: () => import('./factorize.js') },
];

/** A command's usage as its errors quote it: 'usage: edgefit prune MODEL ...'. */
export function usageLine(name: string): string {
  const spec = commands.find((c) => c.name === name);
  if (!spec) throw new Error(`no command '${name}'`);
  return `usage: edgefit ${spec.usage}`;
}
