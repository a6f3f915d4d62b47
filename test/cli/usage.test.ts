// `edgefit <command> --help` prints the usage line from the command table,
// while each command parses its own flags: the two must name the same flags,
// or a user scripting against --help misses one that exists or types one
// that does not. A stray flag is the probe: the usage error lists what the
// command takes.
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../cli/args.js';
import { commands } from '../../cli/commands.js';

async function acceptedFlags(name: string): Promise<string[][]> {
  const spec = commands.find((c) => c.name === name)!;
  const error = await (await spec.load()).run(['--no-such-flag']).then(
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
