// The provider dimension of the planner: a choice is a (candidate, execution
// provider) pair, planned on the ladder expanded per provider the class offers.
import { describe, expect, it } from 'vitest';
import { planAll, type Outcome } from '../../controller/planner.js';
import { choose, type LadderCandidate } from '../../controller/policy.js';
import { choiceOfPair, classProviders, pairLadder, splitPair } from '../../controller/provider-pairs.js';
import type { ExecutionProvider } from '../../protocol/messages.js';

/** yolov8n at three input sizes in fp32 and int8; fidelity falls with size and with int8. */
const SIZES = [640, 480, 320];
const ladder: LadderCandidate[] = SIZES.flatMap((imgsz, i) =>
  (['fp32', 'int8'] as const).map((family) => ({
    id: `${family}-${imgsz}`,
    name: `yolov8n-${family}-${imgsz}`,
    family,
    flops: 8.7e9 * (imgsz / 640) ** 2,
    sizeBytes: family === 'int8' ? 3.3e6 : 12.6e6,
    imgsz,
    accuracy: { value: 0.95 - i * 0.07 - (family === 'int8' ? 0.02 : 0), kind: 'fidelity' as const },
  })),
);

/**
 * Profiles of one Jetson AGX Orin class, written down as data: end-to-end FPS
 * and p95 per (candidate, provider), TensorRT fastest, CUDA next, the CPU far
 * behind (figures of the order published for yolov8n on an AGX Orin, with
 * pre- and post-processing on the CPU). TensorRT could not build an engine for
 * the fp32 640 candidate (out of workspace memory): a failed profile.
 */
const ORIN: Record<string, { fps: number; p95Ms: number } | { error: string }> = {
  'fp32-640@tensorrt': { error: 'TensorRT engine build failed: insufficient workspace memory' },
  'fp32-640@cuda': { fps: 24, p95Ms: 48 },
  'fp32-640@cpu': { fps: 6.1, p95Ms: 180 },
  'int8-640@tensorrt': { fps: 62, p95Ms: 19 },
  'int8-640@cuda': { fps: 21, p95Ms: 55 },
  'int8-640@cpu': { fps: 8.4, p95Ms: 130 },
  'fp32-480@tensorrt': { fps: 88, p95Ms: 13 },
  'fp32-480@cuda': { fps: 40, p95Ms: 29 },
  'fp32-480@cpu': { fps: 10.5, p95Ms: 105 },
  'int8-480@tensorrt': { fps: 104, p95Ms: 11 },
  'int8-480@cuda': { fps: 35, p95Ms: 33 },
  'int8-480@cpu': { fps: 14, p95Ms: 78 },
  'fp32-320@tensorrt': { fps: 140, p95Ms: 8.5 },
  'fp32-320@cuda': { fps: 70, p95Ms: 16 },
  'fp32-320@cpu': { fps: 22, p95Ms: 50 },
  'int8-320@tensorrt': { fps: 160, p95Ms: 7.5 },
  'int8-320@cuda': { fps: 60, p95Ms: 19 },
  'int8-320@cpu': { fps: 30, p95Ms: 36 },
};
const measure = (c: LadderCandidate): Outcome => {
  const p = ORIN[c.id];
  return 'error' in p ? { ok: false, error: p.error } : { ok: true, metrics: { fps: p.fps, p95Ms: p.p95Ms, memoryMb: 900, tempC: 52 } };
};
const PROVIDERS: ExecutionProvider[] = ['tensorrt', 'cuda', 'cpu'];
const SLO = { minFps: 30, maxP95Ms: 40 };

describe('planning per (candidate, provider)', () => {
  it('picks the most accurate pair within the service level on a Jetson Orin class, and says why each better-ranked pair lost', () => {
    const pairs = pairLadder(ladder, PROVIDERS);
    expect(pairs).toHaveLength(18);
    const { evidence, record } = planAll(pairs, SLO, measure);
    const choice = choiceOfPair(choose(pairs, evidence, SLO), pairs, evidence, SLO);

    // The definition, worked over the whole table: highest fidelity whose profile meets both bounds, ties to lower latency.
    const meets = pairs.filter((p) => {
      const r = ORIN[p.id];
      return !('error' in r) && r.fps >= SLO.minFps && r.p95Ms <= SLO.maxP95Ms;
    });
    const best = meets.sort((a, b) => b.accuracy.value! - a.accuracy.value! || 1 / (ORIN[a.id] as { fps: number }).fps - 1 / (ORIN[b.id] as { fps: number }).fps)[0];
    expect(best.id).toBe('int8-640@tensorrt');
    expect({ candidateId: choice.candidateId, ep: choice.ep }).toEqual(splitPair(best.id));
    expect(choice.explanation).toMatch(/^yolov8n-int8-640 on tensorrt \[fidelity 0\.930\]: measured 62\.0 FPS, p95 19\.0 ms/);

    // Ranked above it: the fp32 640 candidate on each provider; each lost for its own reason.
    expect(choice.rejected.map((r) => `${r.candidateId}@${r.ep}`).sort()).toEqual(['fp32-640@cpu', 'fp32-640@cuda', 'fp32-640@tensorrt']);
    const why = Object.fromEntries(choice.rejected.map((r) => [r.ep, r.reasons.join('; ')]));
    expect(why.tensorrt).toBe('profile failed: TensorRT engine build failed: insufficient workspace memory');
    // cuda: 24 FPS < 30 and p95 48 ms > 40, measured or predicted from the cuda family's own fit, never from another provider's
    expect(why.cuda).toMatch(/^fps 2\d\.\d < 30 \((measured|predicted from this class's latency model)\); p95 \d+\.\d ms > 40 ms/);
    expect(why.cpu).toMatch(/fps \d+\.\d < 30|at least as slow as yolov8n-\w+-\d+ on cpu/);
    expect(choice.explanation).toMatch(/yolov8n-fp32-640 on tensorrt \(profile failed: TensorRT engine build failed/);
    expect(choice.explanation).toMatch(/yolov8n-fp32-640 on cuda \(fps 2\d\.\d < 30/);

    // ... and why the chosen candidate runs on tensorrt rather than on the class's other providers (int8-640: cuda 21 FPS, p95 55 ms; cpu 8.4 FPS)
    expect(choice.explanation).toMatch(/ yolov8n-int8-640 on other providers: on cuda: fps 2\d\.\d < 30, p95 \d+\.\d ms > 40 ms \((measured|predicted from this class's latency model)\); on cpu: (fps \d+\.\d < 30|at least as slow as)/);
    process.stdout.write(`orin: ${record.profiles}/${record.exhaustive} profiles; ${choice.explanation}\n`);
    // Fewer profiles than the 18 an exhaustive sweep needs.
    expect(record.exhaustive).toBe(18);
    expect(record.profiles).toBeLessThan(18);
  });

  it('with cpu alone, plans exactly as on the plain ladder: same profiles in the same order, same names and choice', () => {
    const cpuOnly = (c: LadderCandidate): Outcome => measure({ ...c, id: `${c.id}@cpu` });
    const plain = planAll(ladder, SLO, cpuOnly);
    const pairs = pairLadder(ladder, ['cpu']);
    const paired = planAll(pairs, SLO, (p) => cpuOnly({ ...p, id: splitPair(p.id).candidateId }));
    expect(paired.order.map((id) => splitPair(id).candidateId)).toEqual(plain.order);
    expect(paired.record).toEqual(plain.record);
    expect(pairs.map((p) => [p.name, p.family])).toEqual(ladder.map((c) => [c.name, c.family]));
    const a = choose(ladder, plain.evidence, SLO);
    const b = choiceOfPair(choose(pairs, paired.evidence, SLO));
    expect(b).toMatchObject({ candidateId: a.candidateId, ep: 'cpu', explanation: a.explanation });
  });

  it("a class's providers: what its devices report (either naming) that the spec allows, in the spec's order", () => {
    expect(classProviders(['CPUExecutionProvider', 'CUDAExecutionProvider', 'TensorrtExecutionProvider'])).toEqual({ providers: ['cpu', 'cuda', 'tensorrt'], offered: ['cpu', 'cuda', 'tensorrt'] });
    expect(classProviders(['cpu', 'cuda', 'dml'], ['tensorrt', 'cuda', 'cpu'])).toEqual({ providers: ['cuda', 'cpu'], offered: ['cpu', 'cuda'] });
    expect(classProviders(['cpu'], ['tensorrt'])).toEqual({ providers: [], offered: ['cpu'] });
    // an agent older than the field reports nothing: cpu
    expect(classProviders(undefined)).toEqual({ providers: ['cpu'], offered: ['cpu'] });
  });

  it('pair ids go back to candidate and provider; a bare id is the cpu pair', () => {
    expect(splitPair('m1-int8@640@tensorrt')).toEqual({ candidateId: 'm1-int8@640', ep: 'tensorrt' });
    expect(splitPair('fp32-640')).toEqual({ candidateId: 'fp32-640', ep: 'cpu' });
  });
});
