// The README's error table is generated from the catalogue: this fails when
// someone edits one without the other (`npm run errors-table` rewrites it).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { errorsTable, TABLE_END, TABLE_START, withErrorsTable } from '../bench/tools/errors-table.js';
import { CATALOGUE, ERROR_CODES } from '../protocol/errors.js';
import { repoRoot } from './fixtures.js';

describe('the README error table', () => {
  const readme = readFileSync(path.join(repoRoot, 'README.md'), 'utf8');

  it('is the one generated from the catalogue', () => {
    const start = readme.indexOf(TABLE_START);
    const end = readme.indexOf(TABLE_END);
    expect(start, 'README.md lacks the error table markers').toBeGreaterThanOrEqual(0);
    expect(readme.slice(start + TABLE_START.length, end).trim(), "README.md's error table differs from protocol/error-catalogue.ts: run 'npm run errors-table'").toBe(errorsTable());
    expect(withErrorsTable(readme)).toBe(readme);
  });

  it('has one row per code with its statuses and message', () => {
    const rows = errorsTable().split('\n').slice(2);
    expect(rows).toHaveLength(ERROR_CODES.length);
    for (const [i, code] of ERROR_CODES.entries()) {
      const cells = rows[i].split(' | ');
      expect(cells.slice(0, 4)).toEqual([`| \`${code}\``, String(CATALOGUE[code].http), String(CATALOGUE[code].exit), `\`${CATALOGUE[code].message}\``]);
    }
  });
});
