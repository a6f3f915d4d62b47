// `edgefit <command> --help` prints the usage line and the flag descriptions
// from the command table, while each command parses its own flags: they must
// name the same flags, or a user scripting against --help misses one that
// exists or types one that does not. A stray flag is the probe: the usage
// error lists what the command takes.
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../cli/args.js';
import { commands } from '../../cli/commands.js';
import { runCliApart } from '../helpers/cli.js';

async function acceptedFlags(name: string): Promise<string[][]> {
  const spec = commands.find((c) => c.name === name)!;
  const error = await (await spec.load()).run(['--no-such-flag'], spec).then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(error, `${name} took --no-such-flag`).toBeInstanceOf(UsageError);
  const message = (error as UsageError).message;
  expect(message).toMatch(new RegExp(`^${name}: unknown flag '--no-such-flag'; it takes `));
  // '--out (-o)' → ['--out', '-o']
  return message.replace(/^.*; it takes /, '').split(', ').map((f) => f.replace(/[()]/g, '').split(' '));
}

describe('edgefit usage lines', () => {
  it.each(commands.map((c) => c.name))('%s: its --help names every flag it takes, and no other', async (name) => {
    const usage = commands.find((c) => c.name === name)!.usage;
    const named = (flag: string) => new RegExp(`(^|[\\s[(|])${flag}(?![\\w-])`).test(usage);
    const accepted = await acceptedFlags(name);
    for (const forms of accepted) expect(forms.some(named), `'${name}' takes ${forms.join(' / ')} but its usage line does not say so: ${usage}`).toBe(true);
    const advertised = usage.match(/(?<![\w-])--[a-z][\w-]*/g) ?? [];
    for (const flag of advertised) expect(accepted.some((forms) => forms.includes(flag)), `'${name}' usage names ${flag}, which it does not take`).toBe(true);
  });
});

describe('edgefit <command> --help', () => {
  it.each(commands.map((c) => c.name))('%s: describes every flag it takes, and names no other', async (name) => {
    const { flags } = commands.find((c) => c.name === name)!;
    const accepted = await acceptedFlags(name);
    const takes = (flag: string) => accepted.some((forms) => forms.includes(flag));
    // '--ratio R' → '--ratio', '-o OUT' → '-o'
    const listed = Object.keys(flags).map((key) => key.split(' ')[0]);
    for (const forms of accepted) expect(forms.some((f) => listed.includes(f)), `'${name}' takes ${forms.join(' / ')} but its --help does not describe it`).toBe(true);
    for (const [key, text] of Object.entries(flags)) {
      expect(takes(key.split(' ')[0]), `'${name}' --help describes ${key}, which it does not take`).toBe(true);
      expect(text.trim(), `'${name}' ${key} has an empty description`).not.toBe('');
      for (const flag of text.match(/(?<![\w-])--[a-z][\w-]*/g) ?? []) expect(takes(flag), `'${name}' ${key}: its description names ${flag}, which '${name}' does not take`).toBe(true);
    }
  });

  it('prune --help shows each flag with its description from the table, in lines of at most 100 columns', async () => {
    const r = await runCliApart(['prune', '--help']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^Usage: edgefit prune MODEL --method /);
    // descriptions wrap: compare with the whitespace folded
    const text = r.stdout.replace(/\s+/g, ' ');
    const { flags } = commands.find((c) => c.name === 'prune')!;
    for (const [key, description] of Object.entries(flags)) expect(text, key).toContain(` ${key} ${description.replace(/\s+/g, ' ')}`);
    expect(r.stdout).toMatch(/^ {2}--flops-cut F +share of conv FLOPs to remove, as 0\.2 or 20%/m);
    for (const line of r.stdout.split('\n')) expect(line.length, line).toBeLessThanOrEqual(100);
    // the command list stays names and summaries only
    const list = await runCliApart(['--help']);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/^ {2}prune +structured channel pruning/m);
    expect(list.stdout).not.toContain('--flops-cut');
  });
});
