// What the CLI says about itself: the command list, one command's usage and
// flags, and the one line for a command that is not there. The dispatch
// passes the command table in: this file does not import it.
import type { CommandSpec } from './command-spec.js';

const VERSION_HINT = 'edgefit: fit a YOLOv8 detector to every device of an edge fleet';

export function help(commands: readonly CommandSpec[], prefix: string[] = []): string {
  const shown = commands.filter((c) => prefix.every((w, i) => c.name.split(' ')[i] === w));
  // Names and summaries only: full usages are long, and each command's --help shows its own.
  const width = Math.max(...shown.map((c) => c.name.length));
  const lines = shown.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`);
  return `${VERSION_HINT}\n\nUsage: edgefit <command> [options]\n\nCommands:\n${lines.join('\n')}\n\nRun 'edgefit <command> --help' for a command's options.\n`;
}

/** Help reads well up to 100 columns; a narrower terminal gets narrower lines. */
function helpWidth(): number {
  return Math.max(60, Math.min(100, process.stdout.columns || 100));
}

/** Words packed into lines of `width`, later lines after `indent` spaces. */
function wrap(words: string[], width: number, indent: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of words) {
    const lead = lines.length ? indent : 0;
    if (line && lead + line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines.map((l, i) => (i ? ' '.repeat(indent) + l : l));
}

/** A usage split only between its top-level parts, so '[--calib DIR [--views N]]' stays whole. */
function usageParts(usage: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let part = '';
  for (const ch of usage) {
    if (ch === ' ' && depth === 0) {
      if (part) parts.push(part);
      part = '';
      continue;
    }
    if ('[({'.includes(ch)) depth++;
    if ('])}'.includes(ch)) depth = Math.max(0, depth - 1);
    part += ch;
  }
  if (part) parts.push(part);
  return parts;
}

/** `edgefit <command> --help`: usage, summary, then each flag with what it does and its default. */
export function commandHelp(spec: CommandSpec): string {
  const width = helpWidth();
  const head = `Usage: edgefit ${spec.name} `;
  const usage = wrap([head.trimEnd(), ...usageParts(spec.usage.slice(spec.name.length))], width, Math.min(head.length, 30));
  const names = Object.keys(spec.flags);
  // a name longer than the column goes on a line of its own rather than pushing every description right
  const column = Math.min(22, Math.max(...names.map((n) => n.length)));
  const flags = names.flatMap((name) => {
    // a short parenthesis stays on one line: '(default 64)', not '(default' and '64)'
    const text = wrap(spec.flags[name].match(/\([^()]{1,18}\)\S*|\S+/g) ?? [], width - column - 4, 0).map((l) => ' '.repeat(column + 4) + l);
    if (name.length > column) return [`  ${name}`, ...text];
    return [`  ${name.padEnd(column)}  ${text[0].trimStart()}`, ...text.slice(1)];
  });
  return `${usage.join('\n')}\n\n${wrap(spec.summary.split(' '), width, 0).join('\n')}\n\nOptions:\n${flags.join('\n')}\n`;
}

/** Edit distance, for suggesting the command a typo meant. */
function distance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) next[j] = Math.min(row[j] + 1, next[j - 1] + 1, row[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    row = next;
  }
  return row[b.length];
}

/** One line for a command that is not there: the group's commands, or the nearest name. */
export function unknownCommand(commands: readonly CommandSpec[], argv: string[], group: boolean): string {
  const members = commands.filter((c) => c.name.startsWith(`${argv[0]} `)).map((c) => c.name.slice(argv[0].length + 1));
  if (group && (argv.length === 1 || argv[1].startsWith('-'))) return `'${argv[0]}' needs one of its commands: ${members.join(', ')}`;
  const typed = group ? `${argv[0]} ${argv[1]}` : argv[0];
  // 'status' means 'rollout status': a name matches on its last word too. A short word is close to
  // every short name ('ls' to 'up'), so the allowance grows with the length typed.
  const nearest = commands
    .map((c) => ({ name: c.name, d: Math.min(distance(typed, c.name), distance(typed, c.name.split(' ').at(-1)!)) }))
    .sort((a, b) => a.d - b.d)[0];
  const hint = nearest.d <= Math.max(1, Math.floor(typed.length / 3)) ? `did you mean '${nearest.name}'? ` : '';
  return `unknown command '${typed}'; ${hint}'edgefit --help' lists them`;
}
