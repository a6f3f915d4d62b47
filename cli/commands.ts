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

export const commands: CommandSpec[] = [
  { name: 'model build', usage: 'model build yolov8{n,s,m,l,x}[-p2|-p6] [--nc 80] [--imgsz 640] [--seed S] -o OUT [--json]', summary: 'build a synthetic YOLOv8 ONNX model (seeded weights, for latency and compression tests)', load: () => import('./model-build.js') },
];
