// `npm run bench [-- NAME...]`: runs every bench/*.bench.ts (built to
// dist/bench) in its own process, one after another so they never compete for
// the cores, and prints each one's report. A benchmark prints its figure as a
// ratio against a baseline measured in the same run; none of them is a test.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const wanted = process.argv.slice(2);
const benches = readdirSync(here)
  .filter((f) => f.endsWith('.bench.js'))
  .filter((f) => wanted.length === 0 || wanted.some((w) => f.includes(w)))
  .sort();

if (benches.length === 0) {
  console.error(`no benchmark matches ${wanted.join(' ')}; available: ${readdirSync(here).filter((f) => f.endsWith('.bench.js')).join(', ')}`);
  process.exit(2);
}

let failed = 0;
for (const file of benches) {
  console.log(`\n=== ${file.replace(/\.bench\.js$/, '')} ===`);
  const started = Date.now();
  const result = spawnSync(process.execPath, [path.join(here, file)], { stdio: 'inherit' });
  if (result.status !== 0) failed++;
  console.log(`(${((Date.now() - started) / 1000).toFixed(1)} s${result.status !== 0 ? `, exit ${result.status}` : ''})`);
}
process.exit(failed ? 1 : 0);
