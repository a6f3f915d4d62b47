import { describe, expect, it } from 'vitest';
import { planClass, type ClassPlanInput } from '../../controller/class-plan.js';
import type { LadderCandidate, Metrics } from '../../controller/policy.js';

// Four fp32 sizes of one model, accuracy falling with size; frame time grows with FLOPs.
const SIZES = [640, 480, 320, 160];
const ladder: LadderCandidate[] = SIZES.map((s, i) => ({ id: `fp32-${s}`, name: `fp32@${s}`, family: 'fp32', flops: s * s * 20_000, sizeBytes: 12e6, imgsz: s, accuracy: { value: 0.9 - i * 0.05, kind: 'fidelity' } }));
const fps = (s: number) => 1000 / (s * s * 20_000 * 1e-8 + 2);
const m = (s: number): Metrics => ({ fps: fps(s), p95Ms: 1000 / fps(s), memoryMb: 100, tempC: null });
const input = (over: Partial<ClassPlanInput>): ClassPlanInput => ({ ladder, slo: { minFps: 20 }, headroomPct: 10, measurements: [], members: [{ deviceId: 'a', online: false }, { deviceId: 'b', online: true }], skipProfiling: false, ...over });

describe('planClass', () => {
  it('waits while a profile of the class is out', () => {
    expect(planClass(input({ measurements: [{ candidateId: 'fp32-480', outcome: null }] }))).toEqual({ kind: 'wait', why: 'class is being profiled' });
  });

  it('asks for the middle of the family first, to be run on the first online member', () => {
    // open candidates sorted by FLOPs: 160, 320, 480, 640; the middle is index floor(3/2) = 1: 320
    const plan = planClass(input({}));
    expect(plan).toMatchObject({ kind: 'measure', candidateId: 'fp32-320', profiler: 'b' });
    expect(planClass(input({ members: [{ deviceId: 'a', online: false }] }))).toMatchObject({ kind: 'measure', profiler: null });
  });

  it('chooses the most accurate measured candidate meeting the level, with the headroom and the profile count in the explanation', () => {
    // fps: 640 → 1000/(81.92+2) ≈ 11.9, 480 → 1000/(46.08+2) ≈ 20.8, 320 ≈ 44.6; level 20 FPS
    expect(fps(640)).toBeLessThan(20);
    expect(fps(480)).toBeGreaterThan(20);
    const measurements = ['fp32-640', 'fp32-480', 'fp32-320'].map((id) => ({ candidateId: id, outcome: { ok: true as const, metrics: m(Number(id.split('-')[1])) } }));
    const plan = planClass(input({ measurements }));
    expect(plan.kind).toBe('choose');
    if (plan.kind !== 'choose') return;
    expect(plan.choice.candidateId).toBe('fp32-480');
    expect(plan.choice.rejected.map((r) => r.candidateId)).toEqual(['fp32-640']);
    expect(plan.choice.explanation).toMatch(/^fp32@480 \[fidelity 0\.850\]/);
    expect(plan.choice.explanation).toMatch(/10% headroom/);
    expect(plan.choice.explanation).toMatch(/Planner: 3 profile\(s\) for this class against 4/);
    expect(plan.choice).toMatchObject({ profiles: 3, exhaustive: 4 });
  });

  it('fails the class with every reason when nothing meets the level', () => {
    const measurements = ladder.map((c) => ({ candidateId: c.id, outcome: { ok: false as const, error: 'session failed' } }));
    const plan = planClass(input({ measurements }));
    expect(plan.kind === 'choose' && plan.choice.candidateId).toBe(null);
    expect(plan.kind === 'choose' && plan.choice.explanation).toMatch(/^no candidate meets the service level: fp32@640 \(profile failed: session failed\)/);
  });

  it('with skipProfiling, gives the best-ranked candidate without a measurement', () => {
    expect(planClass(input({ skipProfiling: true }))).toMatchObject({ kind: 'choose', choice: { candidateId: 'fp32-640', metrics: null, rejected: [] } });
  });

  it('fails the class with the reason when it cannot run the ladder on any provider the spec allows', () => {
    const why = 'no execution provider to run on: the class offers cpu, the spec allows only tensorrt';
    expect(planClass(input({ unavailable: why }))).toEqual({ kind: 'choose', choice: { candidateId: null, name: null, mode: 'accuracy', metrics: null, rejected: [], explanation: why } });
    expect(planClass(input({ ladder: [] }))).toMatchObject({ kind: 'choose', choice: { candidateId: null } });
  });

  it("with the class's predictor: measures the best candidate it does not rule out, says what it predicted, and names each skip in the choice", () => {
    // level 20 FPS = 50 ms; margin max(15 %, 2 × 10 %) = 20 %: 640 predicted 84 ms > 60 ms is skipped, 480 (48 ms) measured first
    const latency = { predictedMs: new Map([['fp32-640', 84], ['fp32-480', 48], ['fp32-320', 22], ['fp32-160', 7]]), mapePct: 10 };
    const first = planClass(input({ latency }));
    expect(first).toMatchObject({ kind: 'measure', candidateId: 'fp32-480', predictedMs: 48, profiler: 'b' });
    const plan = planClass(input({ latency, measurements: [{ candidateId: 'fp32-480', outcome: { ok: true, metrics: m(480), modelMs: 44 } }] }));
    expect(plan.kind).toBe('choose');
    if (plan.kind !== 'choose') return;
    expect(plan.choice.candidateId).toBe('fp32-480');
    expect(plan.choice).toMatchObject({ profiles: 1, exhaustive: 4 });
    expect(plan.choice.rejected).toEqual([{ candidateId: 'fp32-640', name: 'fp32@640', basis: 'predicted', reasons: ['predicted 84.0 ms > bound 50 ms × (1 + 0.2): not profiled'] }]);
    expect(plan.choice.explanation).toMatch(/Skipped on the class's latency predictor: fp32@640 \(predicted 84\.0 ms > bound 50 ms × \(1 \+ 0\.2\)\)\.$/);
  });
});
