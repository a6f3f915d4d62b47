// The ladder names alone, so the CLI can check --ladder without loading the compression code.
export const LADDER_NAMES = ['default', 'quick'] as const;
export type LadderName = (typeof LADDER_NAMES)[number];
