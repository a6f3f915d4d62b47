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
];
