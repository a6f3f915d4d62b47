import { describe, expect, it } from 'vitest';
import { checkVerdict, type FrameReference } from '../../controller/check/verdict.js';
import { outcomeOf } from '../../controller/rollout/profile-jobs.js';
import type { StoredProfile } from '../../controller/profiles.js';
import type { CheckReport, Detection, ProfileReport } from '../../protocol/messages.js';

// Worked out by hand. A 100×100 box against itself: IoU 1, one true positive
// at every IoU threshold, AP 1. Shifted 10 px sideways: overlap 90×100 = 9000,
// union 10000 + 10000 − 9000 = 11000, IoU 0.818: a true positive at the
// thresholds 0.50 … 0.80 (7 of the 10), so mAP50-95 = 0.7.
const A = 'a'.repeat(64);
const B = 'b'.repeat(64);
const box: Detection = [0, 0, 100, 100, 0.9, 0];
const shifted: Detection = [10, 0, 110, 100, 0.9, 0];
const device = (frames: Record<string, Detection[]>): CheckReport => ({ frames: Object.entries(frames).map(([sha256, detections]) => ({ sha256, detections })), ms: 12 });
const ref = (sha256: string, candidate: Detection[], base: Detection[]): FrameReference => ({ sha256, candidate, base });
/** n distinct boxes of class 0, 200 px apart: no two overlap. */
const boxes = (n: number, score = 0.9): Detection[] => Array.from({ length: n }, (_, i): Detection => [i * 200, 0, i * 200 + 100, 100, score, 0]);

describe('the on-device check verdict', () => {
  it('passes a device that finds what the controller finds: fidelity 1', () => {
    const v = checkVerdict(device({ [A]: [box] }), [ref(A, [box], [box])]);
    expect(v.fidelity).toBeCloseTo(1, 9);
    expect(v.ok).toBe(true);
    expect(v.reason).toContain('fidelity 1.000');
  });

  it('scores a 10 px shift at 0.7 and fails it below the default 0.9, passes it at a bar of 0.6', () => {
    const report = device({ [A]: [shifted] });
    const reference = [ref(A, [box], [box])];
    const strict = checkVerdict(report, reference);
    expect(strict.fidelity).toBeCloseTo(0.7, 9);
    expect(strict.ok).toBe(false);
    expect(strict.reason).toMatch(/^on-device check: fidelity 0\.700 below 0\.9/);
    expect(checkVerdict(report, reference, { threshold: 0.6 }).ok).toBe(true);
  });

  it('fails a candidate broken everywhere: it agrees with itself, but finds nothing where the base model finds objects', () => {
    const v = checkVerdict(device({ [A]: [], [B]: [] }), [ref(A, [], [box]), ref(B, [], [shifted])]);
    expect(v.fidelity).toBeNull();
    expect(v.ok).toBe(false);
    expect(v.reason).toBe('on-device check: finds 0 objects on 2 reference frames where the base model finds 2 (under 10 %)');
  });

  it('counts only boxes at conf 0.25 as found, and "next to nothing" as under a tenth of the base model', () => {
    const base = boxes(20);
    // 1 of 20 found (plus a low-score box that fidelity ranks but that is not "found"): under 2, fails
    const few = checkVerdict(device({ [A]: [...boxes(1), [0, 500, 50, 550, 0.2, 0]] }), [ref(A, boxes(1), base)]);
    expect(few.ok).toBe(false);
    expect(few.reason).toContain('finds 1 object on 1 reference frame where the base model finds 20');
    // 2 of 20 is a tenth: a smaller input size may lose that much and still be a working detector
    expect(checkVerdict(device({ [A]: boxes(2) }), [ref(A, boxes(2), base)]).ok).toBe(true);
  });

  it('fails objects the controller does not see (fidelity 0), and passes a pair that both see nothing where the base sees nothing', () => {
    const ghost = checkVerdict(device({ [A]: [box] }), [ref(A, [], [])]);
    expect(ghost.fidelity).toBe(0);
    expect(ghost.ok).toBe(false);
    const empty = checkVerdict(device({ [A]: [] }), [ref(A, [], [])]);
    expect(empty).toEqual({ fidelity: null, ok: true, reason: 'on-device check: neither the device nor the controller finds objects on 1 reference frame; nothing to compare' });
  });

  it('fails a report that leaves out a reference frame', () => {
    const v = checkVerdict(device({ [A]: [box] }), [ref(A, [box], [box]), ref(B, [box], [box])]);
    expect(v.ok).toBe(false);
    expect(v.reason).toBe('on-device check: the device answered for 1 of 2 reference frames');
  });

  it('turns a failed check into a failed outcome with its reason, so the planner never chooses the candidate on that class', () => {
    const profile = { endToEndFps: 50, endToEnd: { p95Ms: 20 }, model: { meanMs: 12 }, memory: { peakRssMb: 100 }, temperature: { peakC: null } } as unknown as ProfileReport;
    const stored = (check: StoredProfile['check']): StoredProfile => ({ jobId: 'j', deviceId: 'd', artifactSha256: A, candidateId: 'c', ok: true, error: null, profile, check, finishedAt: 0, receivedAt: 0 });
    const failed = { fidelity: null, ok: false, reason: 'on-device check: finds 0 objects', threshold: 0.9, frames: 4, deviceMs: 800, controllerMs: 900 };
    expect(outcomeOf(stored(failed))).toEqual({ ok: false, error: 'on-device check: finds 0 objects', check: failed });
    const passed = { ...failed, fidelity: 1, ok: true, reason: 'on-device check: fidelity 1.000 ≥ 0.9 on 4 reference frames' };
    expect(outcomeOf(stored(passed))).toEqual({ ok: true, metrics: { fps: 50, p95Ms: 20, memoryMb: 100, tempC: null }, modelMs: 12, check: passed });
    expect(outcomeOf(stored(null))).toEqual({ ok: true, metrics: { fps: 50, p95Ms: 20, memoryMb: 100, tempC: null }, modelMs: 12 });
  });
});
