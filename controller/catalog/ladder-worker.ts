// Entry point of the ladder-building child process (see ladder-jobs.ts):
// compression and accuracy measurement are CPU-heavy and must never block the
// controller's event loop. Receives one request, reports progress, answers, exits.
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { readModel } from '../../compress/onnx/read.js';
import { generateLadder, type Recipe } from './ladder.js';
import { generateSearchedLadder, type SearchSettings } from './searched-ladder.js';
import { firstIssue } from '../../protocol/first-issue.js';

const Request = z.object({
  baseFile: z.string(),
  baseSha256: z.string(),
  synthetic: z.boolean(),
  recipes: z.array(z.object({ name: z.string(), steps: z.array(z.any()) })),
  outDir: z.string(),
  calibDir: z.string().optional(),
  evalDir: z.string().optional(),
  /** A searched ladder's search (searched-ladder.ts); the recipes are then empty. */
  search: z.looseObject({ threads: z.number(), sizes: z.array(z.number()) }).optional(),
});

function send(message: object, then?: () => void): void {
  process.send!(message, undefined, {}, then);
}

process.once('message', (raw: unknown) => {
  const parsed = Request.safeParse(raw);
  if (!parsed.success) return send({ type: 'error', message: `bad ladder request: ${firstIssue(parsed.error)}` }, () => process.exit(0));
  const r = parsed.data;
  const run = async () => {
    const base = readModel(readFileSync(r.baseFile));
    const progress = (done: number, total: number, message: string) => send({ type: 'progress', done, total, message });
    if (r.search) return generateSearchedLadder({ base, baseSha256: r.baseSha256, synthetic: r.synthetic, outDir: r.outDir, calibDir: r.calibDir, evalDir: r.evalDir, search: r.search as unknown as SearchSettings }, progress);
    return generateLadder({ ...r, base, recipes: r.recipes as Recipe[] }, (done, total, message) => send({ type: 'progress', done, total, message }));
  };
  run().then(
    (result) => send({ type: 'result', ...result }, () => process.exit(0)),
    (err: unknown) => send({ type: 'error', message: err instanceof Error ? err.message : String(err) }, () => process.exit(0)),
  );
});
