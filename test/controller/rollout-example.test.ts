import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseSpecText, stageSizes } from '../../controller/rollout/spec.js';
import { repoRoot } from '../fixtures.js';

// deploy/examples/rollout.yaml must work as is against `edgefit up`: it names
// the model `up` adds and is a valid spec for its single local device.
// (Checked end to end by hand: `edgefit up`, then `edgefit rollout create
// deploy/examples/rollout.yaml` completes with the local device healthy.)
describe('deploy/examples/rollout.yaml', () => {
  const text = readFileSync(path.join(repoRoot, 'deploy', 'examples', 'rollout.yaml'), 'utf8');

  it('is a valid spec naming the model edgefit up adds, for every device', () => {
    const spec = parseSpecText(text);
    expect(spec.model).toBe('yolov8n-synthetic');
    expect(spec.targets).toBe('all');
    expect(spec.slo.minFps).toBeGreaterThan(0);
    // One local device still makes one complete stage.
    expect(stageSizes(1, spec.stages)).toEqual([1]);
    // A cpu-only device (edgefit up's) offers cpu, which the list allows: it is profiled and served on cpu.
    expect(spec.providers).toEqual(['tensorrt', 'cuda', 'cpu']);
    expect(spec.providerOptions).toEqual({ tensorrt: { trtFp16: true } });
  });

});
