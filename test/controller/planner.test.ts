import { describe, expect, it } from 'vitest';
import { evidenceFor, fitLine, planAll, planStep, type Outcome } from '../../controller/planner.js';
import { choose, type LadderCandidate, type Metrics, type ServiceLevel } from '../../controller/policy.js';

const SIZES = [640, 576, 512, 416, 320, 256];
const GFLOPS_AT_640 = 8.7;

/** 6 input sizes × fp32/int8, like the default ladder of a real base model; accuracy falls with size and with int8. */
function ladder12(synthetic = false): LadderCandidate[] {
  const out: LadderCandidate[] = [];
  for (const [i, imgsz] of SIZES.entries()) {
    for (const family of ['fp32', 'int8']) {
      const flops = GFLOPS_AT_640 * 1e9 * (imgsz / 640) ** 2;
      const fidelity = 1 - i * 0.05 - (family === 'int8' ? 0.02 : 0);
      out.push({
        id: `${family}-${imgsz}`,
        name: `${family}@${imgsz}`,
        family,
        flops,
        sizeBytes: family === 'int8' ? 3.3e6 : 12.6e6,
        imgsz,
        accuracy: synthetic ? { value: null, kind: 'none-synthetic' } : { value: fidelity, kind: 'fidelity' },
      });
    }
  }
  return out;
}

/** A device class as a latency oracle: frame time a·FLOPs + b per precision, a little deterministic jitter. */
function oracle(perGflopMs: Record<string, number>, overheadMs: Record<string, number>, jitter = 0.02) {
  return (c: LadderCandidate): Outcome => {
    const wobble = 1 + jitter * Math.sin(c.flops / 1e8 + c.family.length);
    const frameMs = (perGflopMs[c.family] * c.flops / 1e9 + overheadMs[c.family]) * wobble;
    const metrics: Metrics = { fps: 1000 / frameMs, p95Ms: frameMs * 1.15, memoryMb: 40 + c.sizeBytes / 1e6 * 2.5, tempC: 55 };
    return { ok: true, metrics };
  };
}

function exhaustive(ladder: LadderCandidate[], slo: ServiceLevel, measure: (c: LadderCandidate) => Outcome) {
  const all = new Map(ladder.map((c) => [c.id, measure(c)] as const));
  return choose(ladder, evidenceFor(ladder, all, slo), slo);
}

const CLASSES = {
  'pi4-like': oracle({ fp32: 95, int8: 48 }, { fp32: 30, int8: 22 }),
  'jetson-like': oracle({ fp32: 9, int8: 6 }, { fp32: 8, int8: 9 }),
  'x86-like': oracle({ fp32: 14, int8: 11 }, { fp32: 4, int8: 3 }, 0.04),
  'int8-slow': oracle({ fp32: 20, int8: 26 }, { fp32: 5, int8: 6 }),
};

describe('planner', () => {
  const bound = Math.floor(Math.log2(12) + 2);

  for (const synthetic of [false, true]) {
    it(`needs at most log2(12)+2 = ${bound} profiles per class and picks what exhaustive profiling picks (${synthetic ? 'synthetic, size objective' : 'fidelity objective'})`, () => {
      const ladder = ladder12(synthetic);
      let cases = 0;
      let worst = 0;
      for (const [name, measure] of Object.entries(CLASSES)) {
        // Sweep the service level across the whole ladder: every boundary position, plus none met and all met.
        const fpsAll = ladder.map((c) => (measure(c) as { metrics: Metrics }).metrics.fps).sort((a, b) => a - b);
        const levels = [fpsAll[0] * 0.5, ...fpsAll.flatMap((f) => [f * 0.97, f * 1.03]), fpsAll[fpsAll.length - 1] * 2];
        for (const minFps of levels) {
          for (const slo of [{ minFps }, { maxP95Ms: 1150 / minFps }, { minFps, maxMemoryMb: 60 }] as ServiceLevel[]) {
            const planned = planAll(ladder, slo, measure);
            const reference = exhaustive(ladder, slo, measure);
            const picked = choose(ladder, planned.evidence, slo);
            expect(picked.candidateId, `${name} ${JSON.stringify(slo)}: order ${planned.order.join(' ')}`).toBe(reference.candidateId);
            expect(planned.record.profiles, `${name} ${JSON.stringify(slo)}: order ${planned.order.join(' ')}`).toBeLessThanOrEqual(bound);
            expect(planned.record.exhaustive).toBe(12);
            worst = Math.max(worst, planned.record.profiles);
            cases++;
          }
        }
      }
      expect(cases).toBeGreaterThan(100);
      expect(worst).toBeLessThanOrEqual(bound);
    });
  }

  it('starts in the middle of a family and never measures a candidate twice', () => {
    const ladder = ladder12();
    const first = planStep(ladder, { minFps: 10 }, new Map());
    expect(first.kind).toBe('measure');
    if (first.kind === 'measure') expect(first.why).toMatch(/bisection/);
  });

  it('treats a failed profile as a rejection with its error, never as a measurement', () => {
    const ladder = ladder12();
    const measure = CLASSES['x86-like'];
    const broken = (c: LadderCandidate): Outcome => (c.id === 'fp32-640' ? { ok: false, error: 'onnxruntime: bad graph' } : measure(c));
    const slo = { minFps: 1 };
    const planned = planAll(ladder, slo, broken);
    const picked = choose(ladder, planned.evidence, slo);
    expect(picked.candidateId).toBe('int8-640');
    expect(picked.rejected[0]).toMatchObject({ candidateId: 'fp32-640', basis: 'failed' });
    expect(picked.rejected[0].reasons[0]).toMatch(/profile failed: onnxruntime: bad graph/);
  });

  it('fits a line by least squares and falls back to a proportional guess from one point', () => {
    expect(fitLine([[1, 3], [2, 5], [3, 7]])).toEqual({ a: 2, b: 1 });
    expect(fitLine([[4, 8]])).toEqual({ a: 2, b: 0 });
    expect(fitLine([])).toBeUndefined();
  });
});
