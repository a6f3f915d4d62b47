import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** The real-data fixtures: ../shared/fixtures beside the repo, or $EDGEFIT_FIXTURES. */
export const fixturesDir = process.env.EDGEFIT_FIXTURES ?? path.resolve(repoRoot, '..', 'shared', 'fixtures');
export const haveFixtures = existsSync(path.join(fixturesDir, 'PROVENANCE.md'));
/** Why fixture tests skip on a user's clone: vitest prints it with the skipped suite. */
export const fixturesSkipReason = `needs real fixtures at ${fixturesDir} (set EDGEFIT_FIXTURES)`;

export function fixture(...parts: string[]): string {
  return path.join(fixturesDir, ...parts);
}

export { repoRoot };
