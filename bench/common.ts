// What the benchmarks share: where the real fixtures are, the held-out
// protocol (calibrate on coco8 train, measure on images never calibrated on),
// and where reports go.
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const fixturesDir = process.env.EDGEFIT_FIXTURES ?? path.resolve(repoRoot, '..', 'shared', 'fixtures');

/** The trained YOLOv8n fixture, or undefined after printing why the benchmark skips. */
export function fixtureModelOrSkip(bench: string): string | undefined {
  const file = path.join(fixturesDir, 'models', 'yolov8n_int8_qdq.onnx');
  if (existsSync(file)) return file;
  console.log(`${bench}: skipped, no fixture at ${file} (set EDGEFIT_FIXTURES)`);
  return undefined;
}

export const calibrationDir = path.join(fixturesDir, 'coco8', 'images', 'train');

/** coco8 val + bus.jpg + zidane.jpg: never used for calibration. */
export function heldOutImages(): string[] {
  const valDir = path.join(fixturesDir, 'coco8', 'images', 'val');
  return [...readdirSync(valDir).sort().map((f) => path.join(valDir, f)), path.join(fixturesDir, 'images', 'bus.jpg'), path.join(fixturesDir, 'images', 'zidane.jpg')];
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Writes a report to bench-output/NAME and returns its path. */
export function writeReport(name: string, text: string): string {
  const dir = path.join(repoRoot, 'bench-output');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, name);
  writeFileSync(file, text);
  return file;
}
