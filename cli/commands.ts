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
  /** Every flag it takes, as its --help lists it ('--ratio R', '-o OUT'), with what it does and its default. */
  flags: Record<string, string>;
  load: () => Promise<CommandModule>;
}

/** Flags of every command that talks to a running controller's HTTP API. */
const API = '[--controller URL] [--data DIR]';
const API_FLAGS = {
  '--controller URL': "the controller's base URL (default: where the controller on --data listens, else http://127.0.0.1:8080)",
  '--data DIR': "the controller's data folder, where the admin token is read unless EDGEFIT_ADMIN_TOKEN is set (default ./.edgefit)",
};
const JSON_FLAG = { '--json': 'print one JSON document instead of the text' };
const OUT_FLAG = { '-o OUT': 'the ONNX file to write (required)' };
/** up and controller start the same controller. */
const CONTROLLER_FLAGS = {
  '--port N': 'port of the HTTP API and the dashboard (default 8080)',
  '--host H': 'address the HTTP API and the embedded broker listen on (default 0.0.0.0)',
  '--mqtt-port N': "the embedded MQTT broker's port (default 1883; with --tls, its mqtts port, default 8883)",
  '--broker URL': 'use this MQTT broker (mqtt://, mqtts://, ws://, wss://, tcp://) instead of the embedded one',
  '--data DIR': "the controller's data folder: database, artifacts, keys, admin token (default ./.edgefit)",
  '--tls': "https for the API and mqtts for the embedded broker, with a private CA and server certificate made in --data on first start (ca.pem there is what agents are given), renewed at start within 30 days of expiry or when a name is new; plain MQTT stays on 127.0.0.1 only (--plain-mqtt-port)",
  '--tls-san NAME': 'another host name or IP address the server certificate must name (besides localhost, 127.0.0.1, ::1, the hostname and this machine\'s addresses); repeatable (needs --tls)',
  '--tls-cert FILE': 'your own server certificate (PEM, may carry its chain) instead of the one the controller makes (needs --tls and --tls-key)',
  '--tls-key FILE': 'the key of --tls-cert (PEM)',
  '--tls-ca FILE': 'the CA of your own certificates, which device client certificates must chain to (with --tls-cert)',
  '--tls-client-certs': "the embedded broker's mqtts listener refuses a device without a client certificate from the CA, at the handshake ('devices add' issues one); the API still takes browsers without one (needs --tls)",
  '--plain-mqtt-port N': "with --tls, the embedded broker's plain listener on 127.0.0.1, for this machine's own clients (default 1883; 0 picks a free port)",
};
const CONTROLLER_USAGE = '[--tls [--tls-san NAME]... [--tls-cert FILE --tls-key FILE [--tls-ca FILE]] [--tls-client-certs] [--plain-mqtt-port 1883]]';

export const commands: CommandSpec[] = [
  { name: 'up', usage: `up [--model FILE] [--port 8080] [--host H] [--mqtt-port 1883 | --broker URL] [--data DIR] [--heartbeat 10] ${CONTROLLER_USAGE}`, summary: 'controller + embedded broker + a local agent for this machine',
    flags: {
      '--model FILE': 'the ONNX model whose quick ladder is rolled out to this machine (default: a builder-made yolov8n with synthetic weights, latency only)',
      ...CONTROLLER_FLAGS, '--heartbeat S': "the local agent's heartbeat period in seconds, 1 to 59 (default 10)" },
    load: () => import('./up.js') },
  { name: 'controller', usage: `controller [--broker URL] [--mqtt-port 1883] [--port 8080] [--host H] [--data DIR] ${CONTROLLER_USAGE}`, summary: 'run the controller (embedded MQTT broker unless --broker)',
    flags: CONTROLLER_FLAGS,
    load: () => import('./controller.js') },
  { name: 'agent', usage: 'agent --broker URL --id NAME --token TOKEN [--controller URL [--controller-key FILE] [--cache-cap-mb 2048]] [--ca FILE] [--cert FILE --key FILE] [--state DIR] [--heartbeat 10] [--keepalive 15] [--threads N] [--source SPEC | --frames DIR] [--detections PATH|-] [--publish-detections HZ] [--snapshot-every 5] [--handoff DIR [--on-deploy CMD [--on-deploy-timeout 60]]] [--local-port N] [--health-window 3] [--class-salt S] [--onnxruntime PATH]', summary: 'run the on-device agent (models from --controller are signature-checked against its pinned key)',
    flags: {
      '--broker URL': 'the MQTT broker, e.g. mqtt://controller:1883 (required)',
      '--id NAME': "this device's id, as given to 'edgefit devices add' (required)",
      '--token TOKEN': "its token from 'devices add' (required; EDGEFIT_TOKEN may give it instead, out of ps and shell history)",
      '--controller URL': "the controller's HTTP URL, where models are downloaded from (without it the agent takes no models)",
      '--controller-key FILE': "the controller's public key (PEM) to pin; without it the key the controller first presents is pinned (needs --controller)",
      '--ca FILE': "the CA (PEM) that mqtts:// and https:// servers must present a certificate from (the controller's ca.pem; EDGEFIT_CA may give it instead); without it the CA they first present is pinned in --state, and a later other one is refused",
      '--cert FILE': "this device's client certificate (PEM), for a broker that requires one ('devices add' writes it)",
      '--key FILE': 'the key of --cert (PEM)',
      '--cache-cap-mb N': 'disk cap of the model cache in MiB; models not in use go least recently used first (default 2048)',
      '--state DIR': 'folder for the pinned key, the model cache and results not yet sent (default ./.edgefit-agent)',
      '--heartbeat S': 'heartbeat period in seconds, 1 to 59 (default 10)',
      '--keepalive S': 'MQTT keepalive in seconds, 2 to 600; the broker marks a silent agent offline after 1.5× this (default 15)',
      '--threads N': "onnxruntime intra-op threads for jobs and serving that set none (default: onnxruntime's choice)",
      '--source SPEC': "what the model serves on, and what profiles' end-to-end phase decodes: a video file (looped), a folder of JPEG/PNG, /dev/videoN or an rtsp:// or http(s):// URL; opened at the model's input size, latest frame wins, a lost stream reconnects (default: built-in 640×480 synthetic scenes)",
      '--frames DIR': 'folder of JPEG/PNG frames, looped: the same as --source DIR, which supersedes it (not both)',
      '--handoff DIR': "hand-off mode: the agent serves nothing itself; each deployment puts the model at DIR/current.onnx with DIR/current.json (atomic renames), keeps the one it replaced as DIR/previous.onnx, and the application's reports to the local API decide its health",
      '--on-deploy CMD': 'shell command run after each hand-over (and after a rollback), with EDGEFIT_MODEL, EDGEFIT_MODEL_JSON, EDGEFIT_CANDIDATE, EDGEFIT_SHA256, EDGEFIT_GENERATION and EDGEFIT_PREVIOUS_MODEL set; a non-zero exit or the timeout fails the deployment (needs --handoff)',
      '--on-deploy-timeout S': 'seconds the --on-deploy command may take (default 60)',
      '--local-port N': "port of the agent's local API on 127.0.0.1, where applications POST /v1/app-report and read GET /v1/detections (Server-Sent Events); default 8788 with --handoff, else off; 0: off",
      '--health-window S': 'how long a new model has to prove itself (serving: without errors at the FPS floor; hand-off: the application reports) before it is healthy (default 3)',
      '--detections PATH': "append one JSON line per served frame (boxes in the source's pixels, class names, scores) to PATH, or '-' for stdout (the logs then go to stderr); a slow disk drops lines, never frames",
      '--publish-detections HZ': 'also publish those records on MQTT (edgefit/<id>/detections), at most HZ a second (0 < HZ ≤ 10), the latest frame winning (default: off)',
      '--snapshot-every S': 'every S seconds send the controller a JPEG (≤ 64 KiB) of the served frame with its boxes and class names drawn on, shown in the device view; 0 = off (default 5)',
      '--class-salt S': "mixed into the device class: boards with the same hardware facts but another salt are profiled apart (1-64 of A-Z a-z 0-9 . _ -)",
      '--onnxruntime PATH': 'a locally built onnxruntime-node package folder (e.g. with CUDA and TensorRT on a Jetson) instead of the packaged CPU one; EDGEFIT_ONNXRUNTIME may give it instead' },
    load: () => import('./agent.js') },
  { name: 'devices', usage: `devices [--json] ${API}`, summary: 'list registered devices',
    flags: { ...JSON_FLAG, ...API_FLAGS },
    load: () => import('./devices.js') },
  { name: 'devices add', usage: `devices add NAME [--label k=v]... [--cert-out DIR] [--json] ${API}`, summary: 'register a device and print its token',
    flags: { '--label k=v': 'a label to set (rollout targets select devices by label); repeatable',
      '--cert-out DIR': "also issue the device a client certificate from the controller's CA (needs the CA key in --data, which a controller started with TLS made): writes device.pem, device-key.pem and ca.pem to DIR, to hand to the device",
      ...JSON_FLAG, ...API_FLAGS },
    load: async () => ({ run: (await import('./devices.js')).add }) },
  { name: 'devices label', usage: `devices label ID key=value [key=value...] [--json] ${API}`, summary: "set labels on a device ('key=' removes one)",
    flags: { ...JSON_FLAG, ...API_FLAGS },
    load: async () => ({ run: (await import('./devices.js')).label }) },
  { name: 'broker-config', usage: 'broker-config --out DIR [--data DIR] [--config-dir PATH] [--port 1883] [--tls [--tls-port 8883] [--tls-san NAME]... [--client-certs]]', summary: 'write Mosquitto passwd, ACL and config for the registered devices',
    flags: {
      '--out DIR': 'folder to write passwd, acl and mosquitto.conf in (required)',
      '--data DIR': "the controller's data folder, with its device registry (default ./.edgefit)",
      '--config-dir PATH': 'where Mosquitto will find the files, as written in mosquitto.conf, e.g. inside a container (default: --out)',
      '--port N': "Mosquitto's listener port (default 1883; with --tls, plain on 127.0.0.1 only)",
      '--tls': "a TLS listener with the controller's CA and server certificate (made in --data if not there yet), copied to --out as ca.pem, server.pem and server-key.pem",
      '--tls-port N': "the TLS listener's port (default 8883)",
      '--tls-san NAME': "another name or IP of Mosquitto's machine for the server certificate; repeatable",
      '--client-certs': "require_certificate: Mosquitto refuses a device without a client certificate from the CA ('devices add' issues them)" },
    load: () => import('./broker-config.js') },
  { name: 'models', usage: `models [--json] ${API}`, summary: 'base models and their candidate ladders (cost, precision, accuracy and where it comes from)',
    flags: { ...JSON_FLAG, ...API_FLAGS },
    load: () => import('./models.js') },
  { name: 'models add', usage: `models add FILE [--calib DIR] [--eval DIR] [--ladder default|quick] [--sizes S,S...] [--name N] [--wait] [--json] ${API}`, summary: 'upload a base model and build its candidate ladder in the background',
    flags: {
      '--calib DIR': "calibration images, a folder or YOLO dataset on the controller's machine: int8 of a real model needs them, and the default ladder then adds pruned and factorized candidates; without --eval, half of them measure accuracy",
      '--eval DIR': 'held-out images: mAP50-95 when a labeled YOLO dataset, else fidelity to the base model',
      '--ladder NAME': 'default (the default: 640/512/416/320 × fp32/fp16/int8, more with --calib) or quick (320/256/192/160 × fp32/int8)',
      '--sizes S,S...': "the ladder's input sizes, multiples of 32 in [32, 4096] (default: 640,512,416,320 for default, 320,256,192,160 for quick)",
      '--name N': "the model's name (default: the file name without .onnx)",
      '--wait': 'wait for the ladder to finish, showing its step; exit 1 if it failed',
      ...JSON_FLAG, ...API_FLAGS },
    load: async () => ({ run: (await import('./models.js')).add }) },
  { name: 'candidates import', usage: `candidates import FILE --method NAME --declared-map50-95 X [--source TEXT] [--model ID] [--name N] [--json] ${API}`, summary: 'add a candidate made elsewhere, with its declared accuracy (shown as declared)',
    flags: {
      '--method NAME': 'how it was made, shown as its method (required)',
      '--declared-map50-95 X': 'its mAP50-95 as its maker measured it, 0 to 1 (required; shown as declared)',
      '--source TEXT': 'where the declared figure comes from, shown beside it',
      '--model ID': 'the base model it is a candidate of (may be left out when the catalog holds exactly one)',
      '--name N': 'the candidate name (default import-METHOD)',
      ...JSON_FLAG, ...API_FLAGS },
    load: () => import('./candidates.js') },
  { name: 'rollout create', usage: `rollout create SPEC [--json] ${API}`, summary: 'start a staged rollout from a YAML/JSON spec (see deploy/examples/rollout.yaml)',
    flags: { ...JSON_FLAG, ...API_FLAGS },
    load: async () => ({ run: (await import('./rollout.js')).create }) },
  { name: 'rollout status', usage: `rollout status [ID] [--json] ${API}`, summary: 'rollout progress: each device with its candidate, the explanation and live FPS; profiles needed per class',
    flags: { ...JSON_FLAG, ...API_FLAGS },
    load: async () => ({ run: (await import('./rollout.js')).status }) },
  { name: 'rollout pause', usage: `rollout pause ID [--json] ${API}`, summary: 'pause a rollout (in-flight devices finish their step)',
    flags: { ...JSON_FLAG, ...API_FLAGS },
    load: async () => ({ run: (await import('./rollout.js')).pause }) },
  { name: 'rollout resume', usage: `rollout resume ID [--json] ${API}`, summary: 'resume a paused rollout',
    flags: { ...JSON_FLAG, ...API_FLAGS },
    load: async () => ({ run: (await import('./rollout.js')).resume }) },
  { name: 'rollout abort', usage: `rollout abort ID [--json] ${API}`, summary: 'abort a rollout and roll back every device it deployed to',
    flags: { ...JSON_FLAG, ...API_FLAGS },
    load: async () => ({ run: (await import('./rollout.js')).abort }) },
  { name: 'profile', usage: 'profile MODEL [--duration S] [--runs N] [--warmup N] [--threads N|--threads-sweep 1,2,4] [--sustained [S]] [--ep cpu|cuda|tensorrt] [--trt-fp16] [--trt-int8] [--device-id N] [--onnxruntime PATH] [--max-temp C] [--frames DIR] [--timeout S] [--op-profile] [--json]', summary: 'profile a model on this machine in an isolated process: latency percentiles, FPS, memory, temperature, throttling',
    flags: {
      '--duration S': 'time limit of each measured phase (model only, end to end) in seconds; a phase stops at --runs or --duration, the first reached',
      '--runs N': 'measured runs per phase (default 100 when neither --runs nor --duration is given)',
      '--warmup N': 'runs before measuring (default 10)',
      '--threads N': "onnxruntime intra-op threads (default: onnxruntime's choice)",
      '--threads-sweep LIST': 'profile once per thread count, e.g. 1,2,4; the report leads with the fastest end to end',
      '--sustained [S]': 'add an end-to-end phase of S seconds (bare: 60) and compare the FPS of its first and last window',
      '--ep NAME': 'execution provider: cpu, cuda or tensorrt (default cpu); TensorRT falls back to CUDA, then CPU, for nodes it cannot run',
      '--trt-fp16': 'TensorRT: allow fp16 kernels (needs --ep tensorrt)',
      '--trt-int8': "TensorRT: allow int8 kernels, from the model's Q/DQ scales (needs --ep tensorrt)",
      '--device-id N': 'CUDA/TensorRT device ordinal, 0 to 15 (default 0; needs --ep cuda or tensorrt)',
      '--onnxruntime PATH': 'a locally built onnxruntime-node package folder instead of the packaged CPU one (EDGEFIT_ONNXRUNTIME may give it instead)',
      '--max-temp C': 'abort (exit 1) when the chip gets hotter than C °C',
      '--frames DIR': 'folder of JPEG/PNG images; the first is the end-to-end frame (default: a built-in 640×480 scene)',
      '--timeout S': 'kill the isolated run after S seconds (default 300 + 2 × duration + sustained, per thread count)',
      '--op-profile': "also time every node of the model (onnxruntime session profiling, in a second session after the measurement) and show the longest layers",
      ...JSON_FLAG },
    load: () => import('./profile.js') },
  { name: 'detect', usage: 'detect MODEL IMAGE... | SOURCE... [--conf 0.25] [--iou 0.45] [--max-frames N] [--duration S] [--json]',
    summary: 'detect objects in JPEG/PNG images, or per frame in video files, image folders, V4L2 devices (/dev/videoN) and rtsp/http(s) streams decoded by ffmpeg (predict defaults: conf 0.25, NMS IoU 0.45)',
    flags: {
      '--conf X': 'lowest box score kept, 0 to 1 (default 0.25)',
      '--iou X': 'NMS IoU threshold, 0 to 1 (default 0.45)',
      '--max-frames N': 'stop each video, folder or stream after N frames',
      '--duration S': 'stop each video, folder or stream after S seconds (a stream runs until Ctrl-C otherwise)',
      '--json': 'images only: one JSON document; with a video, folder or stream: one JSON line per frame (source, frame, receivedAt, elapsedMs, detections)' },
    load: () => import('./detect.js') },
  { name: 'eval', usage: 'eval MODEL --data DIR [--baseline MODEL] [--conf 0.001] [--iou 0.7] [--json]', summary: 'mAP50 / mAP50-95 on a YOLO dataset (val defaults: conf 0.001, NMS IoU 0.7); --baseline adds fidelity to that model (its boxes at conf 0.25 as ground truth)',
    flags: {
      '--data DIR': 'a YOLO dataset, images/ beside labels/ (required; without labels, give --baseline)',
      '--baseline MODEL': "also measure fidelity: mAP against this model's own boxes (conf 0.25, NMS IoU 0.45)",
      '--conf X': 'score threshold of the mAP evaluation, 0 to 1 (default 0.001)',
      '--iou X': 'NMS IoU of the mAP evaluation, 0 to 1 (default 0.7)',
      ...JSON_FLAG },
    load: () => import('./eval.js') },
  { name: 'model info', usage: 'model info FILE [--json]', summary: 'inputs, outputs, opset, op histogram, parameters, GFLOPs, weight format and Ultralytics metadata of an ONNX model',
    flags: JSON_FLAG,
    load: () => import('./model-info.js') },
  { name: 'model build', usage: 'model build yolov8{n,s,m,l,x}[-p2|-p6] [--nc 80] [--imgsz 640] [--seed S] -o OUT [--json]', summary: 'build a synthetic YOLOv8 ONNX model (seeded weights, for latency and compression tests)',
    flags: {
      '--nc N': 'number of classes (default 80)',
      '--imgsz S': "input size, a multiple of the model's largest stride (default 640)",
      '--seed S': 'seed of the synthetic weights (default 0)',
      ...OUT_FLAG, ...JSON_FLAG },
    load: () => import('./model-build.js') },
  { name: 'model dequantize', usage: 'model dequantize FILE -o OUT [--json]', summary: 'turn a QDQ or dynamic int8 ONNX model back into a float model (weights dequantized, Q/DQ pairs removed)',
    flags: { ...OUT_FLAG, ...JSON_FLAG },
    load: () => import('./model-dequantize.js') },
  { name: 'model fp16', usage: 'model fp16 MODEL -o OUT [--keep-io-float | --fp16-io] [--json]', summary: 'float16 weights and compute, float32 inputs and outputs unless --fp16-io',
    flags: { ...OUT_FLAG, '--keep-io-float': 'float32 inputs and outputs (the default)', '--fp16-io': 'float16 inputs and outputs, without the Casts at the edges (detect, eval and agents feed float16 then)', ...JSON_FLAG },
    load: () => import('./model-fp16.js') },
  { name: 'model resize', usage: 'model resize MODEL --imgsz S -o OUT [--json]', summary: 'the same detector at another input size (Detect anchors, strides and reshapes regenerated)',
    flags: { '--imgsz S': "the new input size, a multiple of the model's largest stride (required)", ...OUT_FLAG, ...JSON_FLAG },
    load: () => import('./model-resize.js') },
  { name: 'quantize', usage: 'quantize MODEL --calib DIR [--method minmax|percentile|entropy] [--per-channel] [--exclude PATTERN]... -o OUT [--json]', summary: 'static int8 QDQ model calibrated on images (QLinearConv on onnxruntime CPU); detection head outputs stay float',
    flags: {
      '--calib DIR': 'calibration images, a folder or a YOLO dataset; the first 32 are used (required)',
      '--method M': 'activation ranges: minmax, percentile (clips |x| at its 99.999th percentile) or entropy (default percentile)',
      '--per-channel': 'one weight scale per output channel (default: one per tensor)',
      '--exclude PATTERN': 'regular expression on Conv node names that stay float; repeatable',
      ...OUT_FLAG, ...JSON_FLAG },
    load: () => import('./quantize.js') },
  { name: 'prune', usage:
      'prune MODEL --method l1|l2|fpgm|lamp|random|group_norm|apoz|mean_act (--ratio R | --flops-cut F) [--global] [--reduction mean|sum|max] ' +
      '[--round-to 8] [--max-layer-ratio 0.9] [--ignore PATTERN]... [--seed S] [--calib DIR [--views N]] [--reconstruct] [--recovery substitution|bias|refit] [--no-recalibrate] ' +
      '[--sensitivity] [--cache DIR] [--unstructured] -o OUT [--json]', summary: 'structured channel pruning on the ONNX graph, with recovery from calibration images (no training) and sensitivity-aware allocation',
    flags: {
      '--method M': 'channel importance: l1, l2, fpgm, lamp, random, group_norm from weights, or apoz, mean_act from activations, which need --calib (required unless --unstructured)',
      '--ratio R': "share of each group's channels to remove (with --global: of all channels), as 0.2 or 20%, at most 0.95",
      '--flops-cut F': 'share of conv FLOPs to remove, as 0.2 or 20%, at most 0.95',
      '--global': 'one importance threshold across all groups instead of the same ratio in each',
      '--reduction R': "how a group's coupled layers combine their scores per channel: mean, sum or max (default mean)",
      '--round-to N': 'keep channel counts at multiples of N, by keeping more (default 8)',
      '--max-layer-ratio X': "most of a group's channels it may lose, 0.05 to 0.99 (default 0.9)",
      '--ignore PATTERN': 'regular expression on conv node names: a group with a matching producer keeps every channel; repeatable',
      '--seed S': 'seed of random importance and of activation sampling (default 0)',
      '--calib DIR': 'calibration images for apoz, mean_act, --sensitivity and --reconstruct: a folder or a YOLO dataset (the first 32)',
      '--views N': 'augmented views per calibration image, 1 to 8 (default: enough for 16 inputs; needs --calib)',
      '--reconstruct': 'recover without training: by --recovery with --calib, else bias compensation from estimated channel means',
      '--recovery KIND': 'substitution (removed channels regressed on kept ones, folded into the next conv), bias, or refit (substitution, then a least-squares refit of the next convs); needs --reconstruct; default substitution',
      '--no-recalibrate': "skip the statistics recalibration that follows --reconstruct --calib (each channel's mean and spread restored where it helps)",
      '--sensitivity': "allocate the cut by each group's measured sensitivity on the calibration images",
      '--cache DIR': 'where --sensitivity keeps measured levels per base model (default ~/.cache/edgefit)',
      '--unstructured': 'zero the smallest conv weights instead (--ratio of them): same shapes and speed, a smaller compressed file',
      ...OUT_FLAG, ...JSON_FLAG },
    load: () => import('./prune.js') },
  { name: 'factorize', usage: 'factorize MODEL --method spatial|dws|lowrank|grouped --flops-cut F [--calib DIR] [--refit] [--weight-svd] [--no-recalibrate] [--min-channels 64] [--sensitivity] -o OUT [--json]', summary: 'replace k×k convs by SVD factorizations (1×k+k×1, depthwise-separable, low-rank, grouped) to a FLOPs cut, with optional ridge refit and statistics recalibration from calibration images',
    flags: {
      '--method M': 'spatial (1×k then k×1), dws (depthwise k×k then 1×1), lowrank (k×k to rank R then 1×1) or grouped (block-diagonal grouped conv) (required)',
      '--flops-cut F': "share of the model's FLOPs to remove, between 0 and 1 exclusive, as 0.2 or 20% (required)",
      '--calib DIR': 'calibration images, a folder or a YOLO dataset (the first 32): spatial and lowrank SVDs become data-aware, and statistics are recalibrated',
      '--refit': "ridge refit of each factorization's last conv on calibration activations (needs --calib)",
      '--weight-svd': 'with --calib, keep the plain SVD of the weights (dws and grouped always use it)',
      '--no-recalibrate': 'with --calib, skip the statistics recalibration',
      '--min-channels N': 'factorize only k×k convs with at least N input and N output channels (default 64)',
      '--sensitivity': "allocate ranks by each layer's measured sensitivity (needs --calib)",
      ...OUT_FLAG, ...JSON_FLAG },
    load: () => import('./factorize.js') },
];

/** A command's usage as its errors quote it: 'usage: edgefit prune MODEL ...'. */
export function usageLine(name: string): string {
  const spec = commands.find((c) => c.name === name);
  if (!spec) throw new Error(`no command '${name}'`);
  return `usage: edgefit ${spec.usage}`;
}
