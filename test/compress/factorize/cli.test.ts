import { describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { PNG } from 'pngjs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { run } from '../../../cli/factorize.js';
import { dispatched } from '../../helpers/cli.js';
import { UsageError } from '../../../cli/args.js';
import { buildYolov8 } from '../../../compress/yolo/builder.js';
import { writeModelFile } from '../../../compress/onnx/write.js';
import { readModelFile } from '../../../compress/onnx/read.js';
import { readLineage } from '../../../compress/lineage.js';
import { checkModel } from '../../../compress/onnx/check.js';
import { syntheticImage } from '../onnx/helpers.js';
import { outputOf } from './helpers.js';

describe('edgefit factorize', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'edgefit-factorize-'));
  const input = path.join(dir, 'yolov8n.onnx');
  writeModelFile(buildYolov8({ scale: 'n', imgsz: 160 }), input);

  it('writes a checked float model that carries its lineage', async () => {
    const out = path.join(dir, 'dws.onnx');
    const write = process.stdout.write;
    let printed = '';
    process.stdout.write = ((chunk: string) => ((printed += chunk), true)) as typeof process.stdout.write;
    try {
      expect(await run([input, '--method', 'dws', '--flops-cut', '15%', '-o', out, '--json'])).toBe(0);
    } finally {
      process.stdout.write = write;
    }
    const report = JSON.parse(printed) as { cut: number; layers: { rank: number }[] };
    expect(report.cut).toBeGreaterThanOrEqual(0.15);
    const model = readModelFile(out);
    expect(checkModel(model).ok).toBe(true);
    const step = readLineage(model)!.steps.at(-1)!;
    expect(step.method).toBe('factorize');
    expect(step.params).toMatchObject({ method: 'dws', flopsCut: 0.15, allocation: 'energy', refit: false });
    expect(Object.keys(step.params.ranks as object)).toHaveLength(report.layers.length);
    expect((await outputOf(model, syntheticImage(160))).dims).toEqual([1, 84, 525]);
  });

  it('uses data-aware SVDs when given calibration images, and the weight SVD with --weight-svd', async () => {
    const calib = path.join(dir, 'calib');
    mkdirSync(calib, { recursive: true });
    for (const seed of [3, 7]) {
      const image = new PNG({ width: 96, height: 80 });
      for (let i = 0; i < 96 * 80; i++) image.data.set([(i * seed) % 256, (i >> 4) % 256, 128 + ((i * 7) % 64), 255], 4 * i);
      writeFileSync(path.join(calib, `img${seed}.png`), PNG.sync.write(image));
    }
    const reportOf = async (extra: string[]) => {
      const out = path.join(dir, `spatial${extra.length}.onnx`);
      const write = process.stdout.write;
      let printed = '';
      process.stdout.write = ((chunk: string) => ((printed += chunk), true)) as typeof process.stdout.write;
      try {
        expect(await run([input, '--method', 'spatial', '--flops-cut', '5%', '--min-channels', '128', '--calib', calib, '-o', out, '--json', ...extra])).toBe(0);
      } finally {
        process.stdout.write = write;
      }
      const model = readModelFile(out);
      expect(checkModel(model).ok).toBe(true);
      return { report: JSON.parse(printed) as { dataAware: boolean; allocation: string; recalibration?: { applied: boolean } }, params: readLineage(model)!.steps.at(-1)!.params };
    };
    const aware = await reportOf([]);
    expect(aware.report).toMatchObject({ dataAware: true, allocation: 'error', recalibration: { applied: expect.any(Boolean) } });
    expect(aware.params).toMatchObject({ dataAware: true, calibration: ['img3.png', 'img7.png'] });
    expect(aware.params.recalibrated).toBe(aware.report.recalibration?.applied);
    const plain = await reportOf(['--weight-svd', '--no-recalibrate']);
    expect(plain.report).toMatchObject({ dataAware: false, allocation: 'energy' });
    expect(plain.report).not.toHaveProperty('recalibration');
    expect(plain.params.recalibrated).toBe(false);
  });

  it('rejects bad flags with a usage error', async () => {
    await expect(run([input, '--method', 'svd', '--flops-cut', '0.2', '-o', 'x.onnx'])).rejects.toThrow(UsageError);
    await expect(run([input, '--method', 'dws', '--flops-cut', '1.5', '-o', 'x.onnx'])).rejects.toThrow(/--flops-cut/);
    await expect(run([input, '--method', 'dws', '--flops-cut', '0.2', '--refit', '-o', 'x.onnx'])).rejects.toThrow(/--calib/);
    await expect(run([input, '--method', 'dws', '--flops-cut', '0.2'])).rejects.toThrow(/--out/);
  });

  it('answers an unreadable model with exit status 1', async () => {
    const errors: string[] = [];
    const write = process.stderr.write;
    process.stderr.write = ((chunk: string) => (errors.push(chunk), true)) as typeof process.stderr.write;
    try {
      expect(await dispatched('factorize', [path.join(dir, 'missing.onnx'), '--method', 'dws', '--flops-cut', '0.2', '-o', path.join(dir, 'o.onnx')])).toBe(1);
    } finally {
      process.stderr.write = write;
    }
    expect(errors.join('')).toMatch(/cannot read/);
  });
});
