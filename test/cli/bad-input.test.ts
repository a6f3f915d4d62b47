// Bad input to the model commands, run as a user's script runs them: the built
// CLI as a child, stdout and stderr apart. A mistake in the command line exits 2,
// input that cannot be used exits 1; neither prints a stack trace, writes a
// partial file, or puts anything but one JSON document on stdout.
import { spawn, type StdioOptions } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliPath, expectFailure, expectUsage, runCliApart, type ApartRun } from '../helpers/cli.js';

type Run = Omit<ApartRun, 'killed'>;

/** The CLI with stdout and stderr kept apart (see runCliApart). */
const cli = (args: string[], opts: { fileLimitKb?: number; stdio?: StdioOptions } = {}): Promise<Run> => runCliApart(args, opts);

function writePng(file: string, seed: number): void {
  const png = new PNG({ width: 48, height: 40 });
  for (let i = 0; i < png.data.length; i++) png.data[i] = i % 4 === 3 ? 255 : (i * 7 + seed * 13) % 256;
  writeFileSync(file, PNG.sync.write(png));
}

describe('edgefit model commands on bad input', () => {
  let dir: string;
  let model: string;
  let image: string;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'edgefit-bad-input-'));
    model = path.join(dir, 'n64.onnx');
    const built = await cli(['model', 'build', 'yolov8n', '--imgsz', '64', '--nc', '2', '-o', model]);
    expect(built.code, built.stderr).toBe(0);
    mkdirSync(path.join(dir, 'images'));
    image = path.join(dir, 'images', 'a.png');
    writePng(image, 1);
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('refuses a value flag given twice instead of keeping the last one', async () => {
    const out = path.join(dir, 'twice.onnx');
    expectUsage(await cli(['model', 'build', 'yolov8n', '--imgsz', '64', '--imgsz', '96', '-o', out]), /--imgsz given more than once \('64', '96'\)/);
    expect(existsSync(out)).toBe(false);
    expectUsage(await cli(['model', 'fp16', model, '-o', out, '--out', path.join(dir, 'other.onnx')]), /--out given more than once/);
    // a repeated boolean says the same thing twice: still fine
    const info = await cli(['model', 'info', model, '--json', '--json']);
    expect(info.code, info.stderr).toBe(0);
    expect(JSON.parse(info.stdout)).toMatchObject({ weightFormat: 'fp32' });
  });

  it('reads numbers as plain decimals only (a blank is not 0, 0x40 is not 64)', async () => {
    expectUsage(await cli(['detect', model, image, '--conf', ' ', '--json']), /--conf must be a number in \[0, 1\], got ' '/);
    expectUsage(await cli(['model', 'build', 'yolov8n', '--imgsz', '0x40', '-o', path.join(dir, 'hex.onnx')]), /--imgsz must be an integer/);
    expectUsage(await cli(['model', 'resize', model, '--imgsz', '100', '-o', path.join(dir, 'odd.onnx')]), /--imgsz must be a positive multiple of the model's largest stride 32, got 100/);
    expectUsage(await cli(['profile', model, '--runs', '1e1']), /--runs must be an integer/);
    expectUsage(await cli(['model', 'build', 'yolov8n', '--imgsz', '64', '--nc', 'NaN', '-o', path.join(dir, 'nan.onnx')]), /--nc must be an integer/);
    expectUsage(await cli(['profile', model, '--threads=-1']), /--threads must be an integer in \[1, 256\], got '-1'/);
    expectUsage(await cli(['profile', model, '--threads-sweep', '0x2,4']), /--threads-sweep must be a comma-separated list/);
    // shares read the same in prune and factorize: a fraction or a percentage, nothing else
    const out = path.join(dir, 'share.onnx');
    expectUsage(await cli(['prune', model, '--method', 'l1', '--flops-cut', '0x1%', '-o', out]), /--flops-cut must be a fraction in \[0, 0\.95\] or a percentage such as 20%, got '0x1%'/);
    expectUsage(await cli(['factorize', model, '--method', 'dws', '--flops-cut', '100%', '-o', out]), /--flops-cut must be a fraction in \(0, 1\) or a percentage/);
    expect(existsSync(out)).toBe(false);
    const [percent, fraction] = await Promise.all(['20%', '0.2'].map((r) => cli(['prune', model, '--method', 'l1', '--ratio', r, '-o', path.join(dir, `share-${r}.onnx`), '--json'])));
    expect(percent.code, percent.stderr).toBe(0);
    expect(JSON.parse(percent.stdout).parameters).toEqual(JSON.parse(fraction.stdout).parameters);
    expect(JSON.parse(percent.stdout).parameters.after).toBeLessThan(JSON.parse(percent.stdout).parameters.before);
  });

  it("answers 'edgefit GROUP --help' and 'edgefit help COMMAND' on stdout with status 0", async () => {
    const group = await cli(['model', '--help']);
    expect(group.code).toBe(0);
    expect(group.stdout).toMatch(/model fp16\s+float16 weights/);
    expect(group.stdout).not.toMatch(/^\s+detect\s/m);
    const helpDetect = await cli(['help', 'detect']);
    expect(helpDetect.code).toBe(0);
    expect(helpDetect.stdout).toMatch(/^Usage: edgefit detect MODEL IMAGE\.\.\./);
    // a group without --help is still a mistake, and so is a command it does not have
    const bare = await cli(['rollout']);
    expect(bare.code).toBe(2);
    expect(bare.stdout).toBe('');
    expect(bare.stderr).toBe("edgefit: 'rollout' needs one of its commands: create, status, pause, resume, abort\n");
    const typo = await cli(['model', 'infos', model]);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toBe("edgefit: unknown command 'model infos'; did you mean 'model info'? 'edgefit --help' lists them\n");
    const stranger = await cli(['frobnicate']);
    expect(stranger.code).toBe(2);
    expect(stranger.stderr).toBe("edgefit: unknown command 'frobnicate'; 'edgefit --help' lists them\n");
    // a command's last word finds it; a short word is not pointed at whatever short name is near ('up' starts a controller)
    expect((await cli(['status'])).stderr).toMatch(/did you mean 'rollout status'\?/);
    expect((await cli(['ls'])).stderr).toBe("edgefit: unknown command 'ls'; 'edgefit --help' lists them\n");
  });

  it('stops quietly when the reader of stdout goes away, and names a failing stdout', async () => {
    const child = spawn(process.execPath, [cliPath, 'model', 'info', model, '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.destroy(); // `| head -0`: the pipe is closed before the CLI writes
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
    expect(stderr).toBe('');
    expect(code).toBe(0);
    // and keeps its own status: detect with an unreadable image still fails
    const failing = spawn(process.execPath, [cliPath, 'detect', model, path.join(dir, 'missing.png'), '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    failing.stdout.destroy();
    let failingErr = '';
    failing.stderr.on('data', (d: Buffer) => (failingErr += d.toString()));
    expect(await new Promise<number | null>((resolve) => failing.once('close', resolve))).toBe(1);
    expect(failingErr).not.toMatch(/\n\s+at /);
  });

  it.skipIf(!existsSync('/dev/full'))('says so, without a stack trace, when stdout is a full disk', async () => {
    const r = await cli(['model', 'info', model, '--json'], { stdio: ['ignore', openSync('/dev/full', 'w'), 'pipe'] });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^edgefit: cannot write the output: ENOSPC/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('names the model file when it is a folder, missing or truncated', async () => {
    const truncated = path.join(dir, 'truncated.onnx');
    writeFileSync(truncated, readFileSync(model).subarray(0, 100_000));
    const out = path.join(dir, 'never.onnx');
    expectFailure(await cli(['model', 'fp16', dir, '-o', out, '--json']), new RegExp(`cannot read model file '${dir}': EISDIR`));
    expectFailure(await cli(['model', 'resize', dir, '--imgsz', '96', '-o', out]), /cannot read model file .*: EISDIR/);
    expectFailure(await cli(['quantize', path.join(dir, 'missing.onnx'), '--calib', path.join(dir, 'images'), '-o', out, '--json']), /cannot read model file .*missing\.onnx': ENOENT/);
    expectFailure(await cli(['prune', truncated, '--method', 'l1', '--ratio', '0.2', '-o', out, '--json']), /truncated\.onnx: not a complete ONNX model/);
    expect(existsSync(out)).toBe(false);
  });

  it('checks -o before the work: a folder is a usage mistake, a missing folder is created', async () => {
    expectUsage(await cli(['model', 'fp16', model, '-o', dir, '--json']), /-o .* is a folder/);
    expectUsage(await cli(['prune', model, '--method', 'l1', '--ratio', '0.2', '-o', dir]), /-o .* is a folder/);
    expectFailure(await cli(['quantize', model, '--calib', path.join(dir, 'images'), '-o', path.join(model, 'q.onnx')]), /cannot create the folder for .*: a file is in the way/);
    const nested = path.join(dir, 'new', 'deeper', 'half.onnx');
    const fp16 = await cli(['model', 'fp16', model, '-o', nested, '--json']);
    expect(fp16.code, fp16.stderr).toBe(0);
    expect(JSON.parse(fp16.stdout)).toMatchObject({ out: nested });
    expect(statSync(nested).size).toBeGreaterThan(0);
  });

  it.skipIf(!existsSync('/bin/bash'))('leaves no partial model when the write fails, and keeps the file that was there', async () => {
    const out = path.join(dir, 'limited', 'big.onnx');
    mkdirSync(path.dirname(out));
    writeFileSync(out, 'the previous model');
    // 200 KiB is far short of the 12 MB model: the write fails half way
    const r = await cli(['model', 'build', 'yolov8n', '--imgsz', '64', '-o', out, '--json'], { fileLimitKb: 200 });
    expectFailure(r, /cannot write .*big\.onnx: EFBIG/);
    expect(readFileSync(out, 'utf8')).toBe('the previous model');
    expect(readdirSync(path.dirname(out))).toEqual(['big.onnx']);
  });

  it('refuses prune, factorize and eval flags that would be silently ignored', async () => {
    const out = path.join(dir, 'ignored.onnx');
    const calib = path.join(dir, 'images');
    expectUsage(await cli(['prune', model, '--method', 'l1', '--ratio', '0.2', '--recovery', 'refit', '-o', out]), /--recovery only applies with --reconstruct/);
    expectUsage(await cli(['prune', model, '--method', 'l1', '--ratio', '0.2', '--reconstruct', '--recovery', 'substitution', '-o', out]), /--recovery substitution needs calibration images/);
    expectUsage(await cli(['prune', model, '--ratio', '0.2', '--unstructured', '--calib', calib, '--reconstruct', '-o', out]), /--calib, --reconstruct apply to channel pruning, not to --unstructured/);
    expectUsage(await cli(['prune', model, '--ratio', '0.2', '--unstructured', '--method', 'bogus', '-o', out]), /--method must be one of/);
    expectUsage(await cli(['prune', model, '--method', 'l1', '--ratio', '0.2', '--calib', calib, '--sensitivity', '--cache', model, '-o', out]), /--cache .*n64\.onnx is a file/);
    expectUsage(await cli(['eval', model, '--data', calib, '--baseline', model, '--conf', '0.5', '--json']), /--conf and --iou set the mAP evaluation, and .* has no labels/);
    // a folder that cannot give what is asked of it is unusable input, not a usage mistake
    expectFailure(await cli(['eval', model, '--data', calib, '--json']), /has no YOLO labels .* or --baseline MODEL/);
    expectUsage(await cli(['factorize', model, '--method', 'spatial', '--flops-cut', '0.2', '--weight-svd', '-o', out]), /--weight-svd only applies with --calib/);
    expectUsage(await cli(['factorize', model, '--method', 'dws', '--flops-cut', '0.2', '--no-recalibrate', '-o', out]), /--no-recalibrate only applies with --calib/);
    expectUsage(await cli(['factorize', model, '--method', 'dws', '--flops-cut', '0.2', '--calib', calib, '--weight-svd', '-o', out]), /dws always uses the weight SVD/);
    expectUsage(await cli(['prune', model, '--method', 'l1', '--ratio', '0.2', '--calib', calib, '-o', out]), /--calib is read by --reconstruct, --sensitivity and the activation methods/);
    expectUsage(await cli(['prune', model, '--method', 'apoz', '--ratio', '0.2', '-o', out]), /--method apoz needs calibration images/);
    expectUsage(await cli(['prune', model, '--method', 'l1', '--flops-cut', '0.2', '--sensitivity', '-o', out]), /--sensitivity needs calibration images/);
    expectUsage(await cli(['prune', model, '--method', 'l1', '--ratio', '0.2', '--cache', dir, '-o', out]), /--cache .* only applies with --sensitivity/);
    expectUsage(await cli(['prune', model, '--method', 'l1', '--flops-cut', '0.2', '--calib', calib, '--sensitivity', '--global', '-o', out]), /--global and --sensitivity both decide where the cut goes/);
    expect(existsSync(out)).toBe(false);
    // what stays allowed: bias recovery needs no images, --method beside --unstructured is ignored
    const bias = await cli(['prune', model, '--method', 'l1', '--ratio', '0.2', '--reconstruct', '--recovery', 'bias', '-o', out, '--json']);
    expect(bias.code, bias.stderr).toBe(0);
    expect(JSON.parse(bias.stdout)).toMatchObject({ recovery: { kind: 'bias' } });
  });
});
