// The malformed-ONNX run's worker: takes a folder of mutants and the index to
// start at, runs each file through the three targets (onnx-targets.ts) and
// prints one JSON line per file. A native crash ends this process only: the
// bench counts it against the file it was on and starts a new worker after it.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { OnnxTargets } from './onnx-targets.js';

async function main(): Promise<void> {
  const [dir, from, to] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4])];
  const targets = new OnnxTargets();
  try {
    for (let i = from; i < to; i++) {
      // said before the file is tried: if this process dies now, the bench knows on which
      process.stdout.write(`${JSON.stringify({ start: i })}\n`);
      const outcomes = await targets.all(readFileSync(path.join(dir, `${i}.onnx`)));
      process.stdout.write(`${JSON.stringify({ done: i, outcomes })}\n`);
    }
  } finally {
    targets.close();
  }
}

void main();
