// What a request may ask of a ladder, checked the same way by the HTTP API and
// by the CLI before it uploads anything, without loading the compression code.
export const LADDER_NAMES = ['default', 'quick', 'searched'] as const;
export type LadderName = (typeof LADDER_NAMES)[number];

/** Input sizes such as "640,512": multiples of 32 in [32, 4096]. Throws RangeError with the reason. */
export function parseLadderSizes(value: string): number[] {
  const sizes = value.split(',').map((s) => (/^\s*\d+\s*$/.test(s) ? Number(s) : NaN));
  if (sizes.some((n) => !Number.isInteger(n) || n < 32 || n > 4096 || n % 32 !== 0)) throw new RangeError(`sizes must be multiples of 32 in [32, 4096] like 320,256, got '${value}'`);
  return sizes;
}
