// edgefit search's flag checks: every mistake is one line and exit status 2,
// before the model is read (a search costs minutes of profiling).
import { describe, expect, it } from 'vitest';
import { expectFailure, expectUsage, runCliApart } from '../helpers/cli.js';

const MODEL = 'no-such-model.onnx';

describe('edgefit search flags', () => {
  it('needs --calib', async () => {
    expectUsage(await runCliApart(['search', MODEL]), /^edgefit search: --calib is required\n$/);
  });

  it('refuses sizes that are not multiples of 32, naming the bad one', async () => {
    expectUsage(await runCliApart(['search', MODEL, '--calib', 'x', '--sizes', '640,500']), /^edgefit search: --sizes takes input sizes that are multiples of 32 .* got '500' in '640,500'\n$/);
  });

  it('refuses a population of 0 and an unknown precision', async () => {
    expectUsage(await runCliApart(['search', MODEL, '--calib', 'x', '--population', '0']), /^edgefit search: --population must be an integer in \[4, 10000\], got '0'\n$/);
    expectUsage(await runCliApart(['search', MODEL, '--calib', 'x', '--precisions', 'fp32,int4']), /^edgefit search: --precisions takes fp32, fp16, int8, comma-separated, got 'int4'\n$/);
  });

  it('checks flags before reading the model, which is then a one-line failure', async () => {
    expectUsage(await runCliApart(['search', MODEL, '--calib', 'x', '--provider', 'cuda']), /--provider cuda needs --class/);
    const r = await runCliApart(['search', MODEL, '--calib', 'x']);
    expectFailure(r, /no-such-model\.onnx/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });
});
