// What the dispatch knows of a command and hands to it: its name, usage and
// flags. A command reads its own usage line from the spec it is given, so no
// command file imports the command table (cli/commands.ts imports them all).

export interface CommandSpec {
  /** One or more words: 'up', 'devices add', 'model info'. */
  name: string;
  usage: string;
  summary: string;
  /** Every flag it takes, as its --help lists it ('--ratio R', '-o OUT'), with what it does and its default. */
  flags: Record<string, string>;
  load: () => Promise<CommandModule>;
}

export interface CommandModule {
  /** Runs the command with the arguments after its name and its own spec; resolves to an exit status. */
  run(argv: string[], spec: CommandSpec): Promise<number | void>;
}

/** A command's usage as its errors quote it: 'usage: edgefit prune MODEL ...'. */
export function usageLine(spec: Pick<CommandSpec, 'usage'>): string {
  return `usage: edgefit ${spec.usage}`;
}
