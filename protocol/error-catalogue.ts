// Every failure edgefit names, one entry each: its stable code, its message
// template, the HTTP status the API answers it with and the exit status the
// CLI ends with (1: a failure, 2: a usage mistake; README "Commands"). The
// README's error table is generated from this list (bench/tools/errors-table.ts)
// and test/errors-table.test.ts fails when the two differ.
//
// A template's {name} parts are the error's typed details (protocol/errors.ts).
// '{reason}' alone marks a family whose sentences are written where they are
// raised (a model file can be unreadable in a hundred ways); a fixed failure
// (an unknown device) has its wording here, once.
//
// A code never changes meaning once released: scripts branch on it. Add new
// ones; do not reuse an old one for another failure.

export interface CatalogueEntry {
  /** The message, with {detail} placeholders. */
  readonly message: string;
  /** The HTTP status of an API answer with this error (4xx: the caller's input; 5xx: ours or a dependency's). */
  readonly http: number;
  /** The CLI's exit status: 1 failure, 2 usage mistake. */
  readonly exit: 1 | 2;
  /** What the failure is, for the README table. */
  readonly what: string;
}

export const CATALOGUE = {
  // ── the command line
  E_USAGE: { message: '{reason}', http: 400, exit: 2, what: 'a command line the command cannot take: an unknown flag, a value out of range, a flag it would ignore' },
  E_OUTPUT_WRITE: { message: '{reason}', http: 500, exit: 1, what: 'the output file (-o) or its folder cannot be written' },
  E_ONNXRUNTIME_PACKAGE: { message: '{reason}', http: 400, exit: 1, what: '--onnxruntime / EDGEFIT_ONNXRUNTIME names a folder that is not a loadable onnxruntime-node package' },
  E_CONTROLLER_UNREACHABLE: { message: '{reason}', http: 502, exit: 1, what: 'the CLI cannot reach the controller, does not trust its certificate, or got an answer that is not an edgefit controller\'s' },
  E_API_ANSWER: { message: '{method} {path}: {status} {message}', http: 502, exit: 1, what: 'the controller answered a CLI request with an error (its own code is kept in the details)' },

  // ── model files and compression (compress/)
  E_MODEL_FORMAT: { message: '{reason}', http: 400, exit: 1, what: 'a file that is not a readable ONNX model, or one whose graph cannot be analysed' },
  E_MODEL_CHECK: { message: '{reason}', http: 500, exit: 1, what: 'a model edgefit wrote fails its own structural check (a bug: please report it)' },
  E_DETECTOR: { message: '{reason}', http: 400, exit: 1, what: 'a model that cannot serve as a YOLO detector (inputs, outputs or types)' },
  E_IMAGE: { message: '{reason}', http: 400, exit: 1, what: 'an image that is not a JPEG or PNG, is truncated, or is too large' },
  E_DATASET: { message: '{reason}', http: 400, exit: 1, what: 'an image or dataset folder (--calib, --eval, --data) that is missing or empty, or a bad label line' },
  E_EVALUATION: { message: '{reason}', http: 400, exit: 1, what: 'models or data that cannot be evaluated together' },
  E_CALIBRATION: { message: '{reason}', http: 400, exit: 1, what: 'calibration images that are missing or cannot be read' },
  E_CALIBRATION_RUN: { message: '{reason}', http: 400, exit: 1, what: 'the model cannot be run on the calibration images, or gives values that cannot be calibrated' },
  E_QUANTIZE: { message: '{reason}', http: 400, exit: 1, what: 'a model int8 quantization cannot serve' },
  E_OPSET_UPGRADE: { message: '{reason}', http: 400, exit: 1, what: 'a model that cannot be raised to opset 13 (per-channel int8 needs it)' },
  E_DEQUANTIZE: { message: '{reason}', http: 400, exit: 1, what: 'a model that is not an int8 model dequantize can undo' },
  E_FP16: { message: '{reason}', http: 400, exit: 1, what: 'a model that cannot be converted to float16' },
  E_RESIZE: { message: '{reason}', http: 400, exit: 1, what: 'a model whose input size cannot be changed (no Detect anchors found, a Resize that does not scale)' },
  E_INPUT_SIZE: { message: '{reason}', http: 400, exit: 2, what: "an input size that does not fit the model's strides" },
  E_PRUNE: { message: '{reason}', http: 400, exit: 1, what: 'a model or a request channel pruning cannot serve' },
  E_PRUNE_ALLOCATION: { message: '{reason}', http: 400, exit: 1, what: "a pruning target the model's prunable channels cannot reach" },
  E_FACTORIZE: { message: '{reason}', http: 400, exit: 1, what: 'a model or a request factorization cannot serve' },
  E_FACTORIZE_ALLOCATION: { message: '{reason}', http: 400, exit: 1, what: "a FLOPs cut the model's factorizable convs cannot reach" },
  E_SEARCH_SPACE: { message: '{reason}', http: 400, exit: 1, what: 'a search space that does not fit its model, or a genome (a resumed state, a lineage) that does not fit its space' },
  E_SEARCH: { message: '{reason}', http: 400, exit: 1, what: 'a search that cannot run: a state file that is corrupt or from another search, a space with nothing to search, too few operator profiles to fit the latency predictor' },

  // ── the agent
  E_SOURCE_SPEC: { message: '{reason}', http: 400, exit: 2, what: 'a --source that names nothing usable' },
  E_FFMPEG_MISSING: { message: '{reason}', http: 503, exit: 1, what: 'a video, camera or stream source on a machine without ffmpeg/ffprobe on PATH' },
  E_LOCAL_API: { message: '{reason}', http: 503, exit: 1, what: "a hand-off agent's local API cannot listen (its application could not report)" },
  E_ARTIFACT_CACHE: { message: '{reason}', http: 500, exit: 1, what: "the agent's model cache folder cannot be opened" },
  E_SOURCE_ENDED: { message: '{reason}', http: 410, exit: 1, what: 'a file, folder or video source without loop has given its last frame' },
  E_TEGRASTATS_UNAVAILABLE: { message: 'tegrastats unavailable ({command}): {cause}', http: 503, exit: 1, what: "the Jetson's tegrastats cannot be started (its sensors read null)" },
  E_SERVER_UNTRUSTED: { message: '{reason}', http: 502, exit: 1, what: 'a broker or controller whose certificate the agent must not trust' },
  E_ARTIFACT_REJECTED: { message: 'artifact {sha256} rejected ({check}): {detail}', http: 502, exit: 1, what: 'a downloaded model that is not what the controller signed (signature, manifest, hash or size): deleted, never loaded' },
  E_CONTROLLER_KEY_MISMATCH: { message: "controller artifact key changed: pinned {pinned}, now {presented}. Refusing every artifact it signs. If the controller's key was replaced on purpose, delete {pinFile} (or pass the new key with --controller-key) and restart the agent.", http: 502, exit: 1, what: "a controller presenting another artifact-signing key than the one the agent pinned" },
  E_PROFILE_ABORTED: { message: '{reason}', http: 503, exit: 1, what: 'a profile stopped on purpose (the chip passed --max-temp): a failed result, not a crash' },
  E_ARTIFACT_DOWNLOAD: { message: '{reason}', http: 502, exit: 1, what: "a model download that could not complete (details say whether a retry may help)" },

  // ── the controller's API
  E_BAD_REQUEST: { message: '{reason}', http: 400, exit: 1, what: 'a request the API cannot take: not JSON, a wrong type, an unknown field, a missing parameter' },
  E_BODY_TOO_LARGE: { message: '{reason}', http: 413, exit: 1, what: "a request body over the API's limit" },
  E_MEDIA_TYPE: { message: '{reason}', http: 415, exit: 1, what: 'a request body of a content type the route does not take' },
  E_UNAUTHORIZED: { message: 'missing or wrong admin token (Authorization: Bearer <token>)', http: 401, exit: 1, what: 'an API request without the admin token' },
  E_METRICS_UNAUTHORIZED: { message: 'missing or wrong metrics token (Authorization: Bearer <token in metrics.token>)', http: 401, exit: 1, what: 'a /metrics scrape without the scrape token' },
  E_DEVICE_UNAUTHORIZED: { message: 'missing or wrong device credentials (Authorization: Basic base64(id:token))', http: 401, exit: 1, what: "a device request without that device's credentials" },
  E_DEVICE_INVALID: { message: '{reason}', http: 400, exit: 1, what: 'a device id, label or message the registry cannot take' },
  E_DEVICE_EXISTS: { message: "device '{id}' already exists", http: 409, exit: 1, what: 'devices add with an id that is registered' },
  E_DEVICE_UNKNOWN: { message: "no device '{id}'", http: 404, exit: 1, what: 'a device id that is not registered' },
  E_DETECTIONS_NONE: { message: "device '{id}' has published no detections (the agent's --publish-detections is off by default)", http: 404, exit: 1, what: 'latest detections asked of a device that publishes none' },
  E_SNAPSHOT_NONE: { message: "device '{id}' has sent no snapshot yet (it sends one every --snapshot-every seconds while a model serves)", http: 404, exit: 1, what: 'a snapshot asked of a device that has sent none' },
  E_ARTIFACT_INVALID: { message: '{reason}', http: 400, exit: 1, what: 'an artifact upload that is empty, badly named or not sent as bytes' },
  E_ARTIFACT_TOO_LARGE: { message: '{reason}', http: 413, exit: 1, what: "an artifact upload over the controller's limit" },
  E_RANGE_UNSATISFIABLE: { message: "range '{range}' is outside 0-{last}", http: 416, exit: 1, what: 'an artifact download resumed from past its end' },
  E_ARTIFACT_UNKNOWN: { message: 'no artifact {sha256}', http: 404, exit: 1, what: 'an artifact id the store does not hold' },
  E_CATALOG_INVALID: { message: '{reason}', http: 400, exit: 1, what: 'a base model, candidate or ladder request the catalog cannot take' },
  E_CATALOG_EXISTS: { message: '{reason}', http: 409, exit: 1, what: 'a base model or candidate the catalog holds already' },
  E_CATALOG_UNKNOWN: { message: '{reason}', http: 404, exit: 1, what: 'a base model, candidate or ladder job the catalog does not hold' },
  E_LADDER: { message: '{reason}', http: 500, exit: 1, what: 'a step of a ladder build failed' },
  E_SPEC: { message: '{reason}', http: 400, exit: 1, what: 'a rollout spec that cannot be read or is not valid (the field and the problem are named)' },
  E_ROLLOUT_UNKNOWN: { message: "no rollout '{id}'", http: 404, exit: 1, what: 'a rollout id that does not exist' },
  E_ROLLOUT_CONFLICT: { message: '{reason}', http: 409, exit: 1, what: 'a request that contradicts a rollout\'s state: pause an aborted one, target a device another rollout holds' },
  E_TRANSITION: { message: 'device state cannot go from {from} to {to}', http: 409, exit: 1, what: "a device state change the rollout state machine does not allow" },
  E_DASHBOARD_FILE_UNKNOWN: { message: 'no dashboard file {path}', http: 404, exit: 1, what: 'a dashboard file that is not in the build' },
  E_ROUTE_UNKNOWN: { message: 'Route {method}:{url} not found', http: 404, exit: 1, what: 'a path and method the API does not serve' },
  E_RESULT_LISTENER: { message: '{reason}', http: 500, exit: 1, what: 'a profile result was stored but a listener failed on it (it is not stored twice)' },
  E_INTERNAL: { message: 'internal error', http: 500, exit: 1, what: 'a failure of ours: the answer says no more, the log has the stack' },

  // ── the controller's own resources
  E_BROKER_UNAVAILABLE: { message: '{reason}', http: 503, exit: 1, what: 'the MQTT broker cannot be reached now: nothing was sent' },
  E_SQLITE_MISSING: { message: '{reason}', http: 500, exit: 1, what: 'the controller needs better-sqlite3, which this install lacks' },
  E_DB_VERSION: { message: '{reason}', http: 500, exit: 1, what: 'the state database was written by a newer edgefit' },
  E_TLS_CONFIG: { message: '{reason}', http: 400, exit: 1, what: 'a certificate, key or CA the operator gave (or the data folder lacks) that cannot be used' },
} as const satisfies Record<string, CatalogueEntry>;

export type ErrorCode = keyof typeof CATALOGUE;

export const ERROR_CODES = Object.keys(CATALOGUE) as ErrorCode[];
