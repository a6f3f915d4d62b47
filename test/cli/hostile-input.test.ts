// The first hostile probe of issue #20, each finding as a regression test:
// models whose input is 10^12 wide, of batch 2^31, [1,3,160,int64 max] or
// [1,3,0,640] (detect, profile and model info each answer one clear line, and
// model info's runnable line agrees with detect); 9,000 labels on a device;
// artifact names '../../x', NUL and '<script>'; a rollout spec with
// `!!js/function`, and one of random bytes.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import jpeg from 'jpeg-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tinyDetectorBytes, tinyDetectorWithInput } from '../../bench/fuzz/onnx-mutants.js';
import { modelInfo } from '../../compress/onnx/info.js';
import { readModel } from '../../compress/onnx/read.js';
import { startController, type Controller } from '../../controller/controller.js';
import { MAX_LABELS } from '../../controller/registry.js';
import { parseSpecText, SpecError } from '../../controller/rollout/spec.js';
import { runCliApart } from '../helpers/cli.js';
import { captureLogger } from '../helpers/log.js';

const cli = (args: string[]) => runCliApart(args, { limitMs: 30_000 });
const INT64_MAX = '9223372036854775807';
/** One line on stderr, nothing raw: no JS error name, no stack, no second line. */
const oneClearLine = (stderr: string) => {
  expect(stderr.trimEnd().split('\n')).toHaveLength(1);
  expect(stderr).not.toMatch(/Invalid typed array length|RangeError|TypeError|\n\s+at /);
};

describe('models with absurd input shapes', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'edgefit-hostile-'));
  const file = (name: string, dims: Array<number | string>) => {
    const p = path.join(dir, `${name}.onnx`);
    writeFileSync(p, tinyDetectorWithInput(dims));
    return p;
  };
  let wide: string, batch: string, int64: string, zero: string, image: string;

  beforeAll(() => {
    wide = file('wide', [1, 3, 1e12, 640]);
    batch = file('batch', [2 ** 31, 3, 32, 32]);
    int64 = file('int64', [1, 3, 160, INT64_MAX]);
    zero = file('zero', [1, 3, 0, 640]);
    image = path.join(dir, 'grey.jpg');
    writeFileSync(image, jpeg.encode({ data: Buffer.alloc(32 * 32 * 4, 128), width: 32, height: 32 }, 80).data);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('model info says which are not runnable, by the rule detect applies, and a sound one is', () => {
    expect(modelInfo(readModel(tinyDetectorBytes())).runnable).toEqual({ ok: true });
    const reasons = [
      [[1, 3, 1e12, 640], /got \[1, 3, 1000000000000, 640\]: H and W must be 1-4096$/],
      [[2 ** 31, 3, 32, 32], /got \[2147483648, 3, 32, 32\]: the batch must be 1$/],
      [[1, 3, 160, INT64_MAX], /got \[1, 3, 160, 9223372036854776000\]: H and W must be 1-4096$/],
      [[1, 3, 0, 640], /^input 'images' must be a fixed-size \[1,3,H,W\] image, got \[1, 3, 0, 640\]$/],
      [[1, 3, 4097, 32], /H and W must be 1-4096$/],
    ] as const;
    for (const [dims, reason] of reasons) {
      const { runnable } = modelInfo(readModel(tinyDetectorWithInput([...dims])));
      expect(runnable.ok, String(dims)).toBe(false);
      expect(!runnable.ok && runnable.reason).toMatch(reason);
    }
    // the bound itself is runnable
    expect(modelInfo(readModel(tinyDetectorWithInput([1, 3, 4096, 32]))).runnable).toEqual({ ok: true });
  });

  it('model info prints the runnable line and exits 0 (it describes the file); --json carries the reason', async () => {
    const text = await cli(['model', 'info', int64]);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^runnable\s+no: input 'images' must be a fixed-size \[1,3,H,W\] image, got \[1, 3, 160, 9223372036854776000\]: H and W must be 1-4096$/m);
    const json = await cli(['model', 'info', zero, '--json']);
    expect(json.code, json.stderr).toBe(0);
    expect((JSON.parse(json.stdout) as { runnable: unknown }).runnable).toEqual({ ok: false, reason: "input 'images' must be a fixed-size [1,3,H,W] image, got [1, 3, 0, 640]" });
  });

  it('detect refuses a 10^12-wide input with one line, not a raw typed-array error', async () => {
    const r = await cli(['detect', wide, image]);
    expect(r.code, r.stderr).toBe(1);
    oneClearLine(r.stderr);
    expect(r.stderr).toMatch(/wide\.onnx: input 'images' must be a fixed-size \[1,3,H,W\] image, got \[1, 3, 1000000000000, 640\]: H and W must be 1-4096/);
  });

  // the 10^12 side takes the same path (the detector's input rule, in the profiling process) as detect's above
  it("profile --json's error is one line for a batch of 2^31, where onnxruntime's three-line message was", async () => {
    const r = await cli(['profile', batch, '--json', '--runs', '1', '--warmup', '0']);
    expect(r.code, r.stderr).toBe(1);
    const out = JSON.parse(r.stdout) as { ok: boolean; error: string };
    expect(out.ok).toBe(false);
    expect(out.error).toBe("input 'images' must be a fixed-size [1,3,H,W] image, got [2147483648, 3, 32, 32]: the batch must be 1");
  });
});

describe('rollout specs that are not plain YAML', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'edgefit-hostile-spec-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('!!js/function is refused on one line, with no YAML warning before it', async () => {
    const spec = path.join(dir, 'function.yaml');
    writeFileSync(spec, 'model: !!js/function "function () { return process.exit(3) }"\nslo:\n  minFps: 10\n');
    const r = await cli(['rollout', 'create', spec, '--controller', 'http://127.0.0.1:1']);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/^edgefit rollout create: .*function\.yaml: rollout spec is not plain YAML: Unresolved tag: tag:yaml\.org,2002:js\/function/);
    oneClearLine(r.stderr);
    expect(r.stderr).not.toMatch(/Warning/);
  });

  it('random bytes are never echoed raw: the error is printable and short', () => {
    // bytes chosen to reach each kind of answer: a YAML error, a scalar, a mapping with an unknown key of control characters
    const specs = ['\u0000\u001b[31m\u0007: [', '\u001b]0;owned\u0007', `"\u202e\u0001": 1\nmodel: m\nslo: {minFps: 1}`, Buffer.from(Array.from({ length: 512 }, (_, i) => (i * 97 + 13) % 256)).toString('latin1')];
    for (const text of specs) {
      let message = '';
      try {
        parseSpecText(text);
      } catch (err) {
        expect(err).toBeInstanceOf(SpecError);
        message = (err as Error).message;
      }
      expect(message, JSON.stringify(text)).toMatch(/^rollout spec /);
      expect(message.length).toBeLessThanOrEqual(300);
      // nothing a terminal would act on: no control character, no bidi override
      expect(message).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/);
    }
  });
});

describe('requests that would make every device list heavier, or name a file outside the store', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'edgefit-hostile-http-'));
  let controller: Controller;
  const call = async (method: string, p: string, body?: unknown, type = 'application/json') => {
    const res = await fetch(controller.httpUrl + p, { method, headers: { authorization: `Bearer ${controller.adminToken}`, ...(body === undefined ? {} : { 'content-type': type }) }, body: body === undefined ? undefined : type === 'application/json' ? JSON.stringify(body) : Buffer.from(body as Uint8Array) });
    return { status: res.status, body: (await res.json()) as { message?: string } & Record<string, unknown> };
  };

  beforeAll(async () => {
    controller = await startController({ dataDir: dir, mqttPort: 0, httpPort: 0, host: '127.0.0.1', log: captureLogger().log });
  });
  afterAll(async () => {
    await controller.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it(`a device takes at most ${MAX_LABELS} labels, whether given at once or one by one`, async () => {
    const labels = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, 'v'.repeat(100)]));
    const flood = await call('POST', '/api/devices', { id: 'flood', labels: labels(9000) });
    expect(flood.status).toBe(400);
    expect(flood.body.message).toBe(`labels: a device has at most ${MAX_LABELS} labels`);
    expect(controller.registry.get('flood')).toBeUndefined();
    expect((await call('POST', '/api/devices', { id: 'full', labels: labels(MAX_LABELS) })).status).toBe(201);
    const more = await call('POST', '/api/devices/full/labels', { labels: { extra: 'x' } });
    expect(more.status).toBe(400);
    expect(more.body.message).toMatch(`a device has at most ${MAX_LABELS} labels`);
    expect(Object.keys(controller.registry.get('full')!.labels)).toHaveLength(MAX_LABELS);
    // replacing a label is not adding one
    expect((await call('POST', '/api/devices/full/labels', { labels: { k0: 'y' } })).status).toBe(200);
  });

  it("artifact names are file names: '../../x', NUL and '<script>' are refused, and nothing is stored", async () => {
    for (const name of ['../../x', '%00', '%3Cscript%3E', 'a%2Fb', '.hidden']) {
      const r = await call('POST', `/api/artifacts?name=${name}`, new Uint8Array([1, 2, 3]), 'application/octet-stream');
      expect(r.status, name).toBe(400);
      expect(r.body.message).toMatch(/^artifact names are 1-128 letters, digits, '\.', '_' or '-', starting with a letter or digit; got "/);
      expect(r.body.message).not.toMatch(/[\u0000-\u001f]/);
    }
    expect((await call('GET', '/api/artifacts')).body.artifacts).toEqual([]);
    expect((await call('POST', '/api/artifacts?name=yolov8n-int8.onnx', new Uint8Array([1, 2, 3]), 'application/octet-stream')).status).toBe(201);
  });
});
