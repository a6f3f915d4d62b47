import { describe, expect, it } from 'vitest';
import { choose, rankByObjective, sloExcess, sloViolations, withHeadroom, type Evidence, type LadderCandidate } from '../../controller/policy.js';

const c = (id: string, family: string, imgsz: number, accuracy: number | null): LadderCandidate => ({
  id,
  name: id,
  family,
  flops: imgsz * imgsz * 1000,
  sizeBytes: family === 'int8' ? 3e6 : 12e6,
  imgsz,
  accuracy: accuracy === null ? { value: null, kind: 'none-synthetic' } : { value: accuracy, kind: 'fidelity' },
});
const m = (fps: number, memoryMb = 100, tempC: number | null = 50) => ({ fps, p95Ms: 1200 / fps, memoryMb, tempC });

describe('policy', () => {
  it('names each bound a metric breaks with both numbers; a missing sensor is never a violation', () => {
    expect(sloViolations(m(10, 300, null), { minFps: 15, maxMemoryMb: 256, maxTempC: 70 })).toEqual(['fps 10.0 < 15', 'memory 300 MB > 256 MB']);
    expect(sloViolations(m(20), { minFps: 15 })).toEqual([]);
    expect(sloExcess(m(12), { minFps: 15 })).toBeCloseTo(0.2);
  });

  it('chooses the most accurate measured candidate that meets the level and says why each better one lost', () => {
    const ladder = [c('a640', 'fp32', 640, 0.99), c('b640', 'int8', 640, 0.97), c('a320', 'fp32', 320, 0.9), c('b320', 'int8', 320, 0.88)];
    const evidence = new Map<string, Evidence>([
      ['a640', { basis: 'implied', by: 'a320', violations: ['fps 12.0 < 15'] }],
      ['b640', { basis: 'measured', metrics: m(14) }],
      ['a320', { basis: 'measured', metrics: m(12) }],
      ['b320', { basis: 'measured', metrics: m(30) }],
    ]);
    const choice = choose(ladder, evidence, { minFps: 15 });
    expect(choice.candidateId).toBe('b320');
    expect(choice.rejected.map((r) => [r.candidateId, r.basis])).toEqual([['a640', 'implied'], ['b640', 'measured'], ['a320', 'measured']]);
    expect(choice.rejected[1].reasons).toEqual(['fps 14.0 < 15 (measured)']);
    expect(choice.explanation).toMatch(/highest accuracy/);
  });

  it('on synthetic ladders falls back to the largest input size and says so; ties go to lower latency', () => {
    const ladder = [c('f320', 'fp32', 320, null), c('i320', 'int8', 320, null), c('f160', 'fp32', 160, null)];
    const evidence = new Map<string, Evidence>([
      ['f320', { basis: 'measured', metrics: m(20) }],
      ['i320', { basis: 'measured', metrics: m(35) }],
      ['f160', { basis: 'measured', metrics: m(60) }],
    ]);
    expect(rankByObjective(ladder, evidence).map((x) => x.id)).toEqual(['i320', 'f320', 'f160']);
    const choice = choose(ladder, evidence, { minFps: 15 });
    expect(choice.candidateId).toBe('i320');
    expect(choice.explanation).toMatch(/synthetic weights, no accuracy/);
    expect(choice.explanation).toMatch(/largest input size/);
  });

  it('never chooses on a prediction alone, and explains an empty choice', () => {
    const ladder = [c('a', 'fp32', 320, 0.9)];
    const choice = choose(ladder, new Map([['a', { basis: 'predicted', metrics: m(100) }]]), { minFps: 15 });
    expect(choice.candidateId).toBeNull();
    expect(choice.explanation).toMatch(/no candidate meets the service level/);
  });
});

describe('headroom', () => {
  it('tightens only the speed bounds, by the given percentage', () => {
    expect(withHeadroom({ minFps: 15, maxP95Ms: 110, maxMemoryMb: 512, maxTempC: 80 }, 10)).toEqual({ minFps: 16.5, maxP95Ms: 100, maxMemoryMb: 512, maxTempC: 80 });
    expect(withHeadroom({ maxMemoryMb: 512 })).toEqual({ maxMemoryMb: 512 });
    expect(withHeadroom({ minFps: 10 }, 0)).toEqual({ minFps: 10 });
  });
});
