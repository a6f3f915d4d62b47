import { parseArgs, type ParseArgsConfig } from 'node:util';

/** A usage mistake: main prints the message and exits with status 2. */
export class UsageError extends Error {}

type Options = NonNullable<ParseArgsConfig['options']>;

/**
 * Strict flag parsing shared by every command: unknown flags and missing values
 * become UsageError with the command's name, never a stack trace.
 */
export function parse<O extends Options>(command: string, argv: string[], options: O, allowPositionals = true) {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals, strict: true, tokens: true });
  } catch (err) {
    throw new UsageError(`${command}: ${(err as Error).message}`);
  }
  // parseArgs keeps the last of a repeated value silently; in a script that is
  // almost always a mistake (an edited line, a default and an override), so say so.
  const seen = new Map<string, string>();
  for (const t of parsed.tokens) {
    if (t.kind !== 'option' || t.value === undefined || options[t.name]?.multiple) continue;
    const first = seen.get(t.name);
    if (first !== undefined) throw new UsageError(`${command}: --${t.name} given more than once ('${first}', '${t.value}'); give it once`);
    seen.set(t.name, t.value);
  }
  return { values: parsed.values, positionals: parsed.positionals };
}

// Plain decimal numbers only: Number() would also take '', ' ' (as 0), '0x10' and '0b1'.
const INTEGER = /^[+-]?\d+$/;
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

export function intFlag(command: string, name: string, value: string | undefined, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined) return fallback;
  const n = INTEGER.test(value) ? Number(value) : NaN;
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new UsageError(`${command}: --${name} must be an integer in [${min}, ${max}], got '${value}'`);
  }
  return n;
}

export function numberFlag(command: string, name: string, value: string | undefined, fallback: number, min = -Infinity, max = Infinity): number {
  if (value === undefined) return fallback;
  const n = DECIMAL.test(value) ? Number(value) : NaN;
  if (!Number.isFinite(n) || n < min || n > max) {
    throw new UsageError(`${command}: --${name} must be a number in [${min}, ${max}], got '${value}'`);
  }
  return n;
}

export function requireFlag<T>(command: string, name: string, value: T | undefined): T {
  if (value === undefined || value === '') throw new UsageError(`${command}: --${name} is required`);
  return value;
}

export function choiceFlag<const C extends readonly string[]>(command: string, name: string, value: string | undefined, choices: C, fallback: C[number]): C[number] {
  if (value === undefined) return fallback;
  if (!(choices as readonly string[]).includes(value)) {
    throw new UsageError(`${command}: --${name} must be one of ${choices.join(', ')}, got '${value}'`);
  }
  return value as C[number];
}

/** Machine-readable output: one JSON document on stdout. */
export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}
