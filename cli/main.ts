#!/usr/bin/env node
import { commands, type CommandSpec } from './commands.js';
import { failure } from './failure.js';
import { commandHelp, help, unknownCommand } from './help.js';
import { activateOnnxruntime } from './onnxruntime-flag.js';

/** The longest command name that prefixes argv wins: 'devices add' before 'devices'. */
function resolve(argv: string[]): { spec: CommandSpec; rest: string[] } | undefined {
  let best: { spec: CommandSpec; rest: string[] } | undefined;
  for (const spec of commands) {
    const words = spec.name.split(' ');
    if (words.every((w, i) => argv[i] === w) && (!best || words.length > best.spec.name.split(' ').length)) {
      best = { spec, rest: argv.slice(words.length) };
    }
  }
  return best;
}

const asksHelp = (args: string[]) => args.includes('--help') || args.includes('-h');

/** The command being run, for the line its failure prints. */
let running: string | undefined;

async function main(argv: string[]): Promise<number> {
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h') {
    process.stdout.write(help(commands));
    return 0;
  }
  // 'edgefit help detect' is 'edgefit detect --help'
  if (argv[0] === 'help') return main(argv.length > 1 ? [...argv.slice(1), '--help'] : []);
  const found = resolve(argv);
  if (!found) {
    const group = commands.some((c) => c.name.startsWith(argv[0] + ' '));
    // 'edgefit model --help' asked for the group's commands: an answer, not a mistake
    if (group && asksHelp(argv.slice(1))) {
      process.stdout.write(help(commands, [argv[0]]));
      return 0;
    }
    process.stderr.write(`edgefit: ${unknownCommand(commands, argv, group)}\n`);
    return 2;
  }
  if (asksHelp(found.rest)) {
    process.stdout.write(commandHelp(found.spec));
    return 0;
  }
  running = found.spec.name;
  await activateOnnxruntime(found.spec.name, found.rest);
  const mod = await found.spec.load();
  return (await mod.run(found.rest, found.spec)) ?? 0;
}

// A reader that goes away (| head, | true) is not an error of ours; a full disk is one to name.
// Either way no stack trace: the stream's 'error' event would otherwise be unhandled.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  // the command still ends with its own status (this can fire before main has set it)
  if (err.code === 'EPIPE' || err.code === 'ERR_STREAM_DESTROYED') return;
  process.stderr.write(`edgefit: cannot write the output: ${err.message}\n`);
  process.exit(1);
});
// Nowhere left to report a failing stderr: the exit status still tells.
process.stderr.on('error', () => undefined);

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    // one line, 'edgefit <command>: <message>', and the exit status of the error's code (2: a usage mistake, 1: a failure)
    const { line, exit } = failure(err, running);
    process.stderr.write(`${line}\n`);
    if (process.env.EDGEFIT_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
    process.exitCode = exit;
  },
);
