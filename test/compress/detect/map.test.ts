import { describe, expect, it } from 'vitest';
import { computeMap, interpolatedAp, type Box, type ImageEvaluation } from '../../../compress/detect/map.js';

const A: Box = [0, 0, 100, 100];
const B: Box = [200, 200, 300, 300];
const C: Box = [400, 0, 500, 100];

const gt = (box: Box, classId = 0) => ({ box, classId });
const det = (box: Box, score: number, classId = 0) => ({ box, score, classId });

describe('computeMap (COCO rules)', () => {
  it('perfect detections give AP 1 at every threshold', () => {
    const images: ImageEvaluation[] = [
      { groundTruth: [gt(A), gt(B, 1)], detections: [det(A, 0.9), det(B, 0.8, 1)] },
      { groundTruth: [gt(C)], detections: [det(C, 0.7)] },
    ];
    const r = computeMap(images);
    expect(r.map50).toBe(1);
    expect(r.map50_95).toBe(1);
    expect(r.perClass.map((c) => c.groundTruth)).toEqual([2, 1]);
  });

  it('a box shifted to IoU 2/3 matches at 0.50..0.65 only: AP50 = 1, AP75 = 0, AP50-95 = 4/10', () => {
    // [20,0,120,100] vs [0,0,100,100]: intersection 80·100, union 120·100 → IoU 0.667
    const r = computeMap([{ groundTruth: [gt(A)], detections: [det([20, 0, 120, 100], 0.9)] }]);
    expect(r.map50).toBe(1);
    expect(r.map75).toBe(0);
    expect(r.map50_95).toBeCloseTo(0.4, 12);
  });

  it('a missed ground truth caps recall at 0.5: AP = 51/101', () => {
    const r = computeMap([{ groundTruth: [gt(A), gt(B)], detections: [det(A, 0.9)] }]);
    expect(r.map50).toBeCloseTo(51 / 101, 12);
    expect(r.map50_95).toBeCloseTo(51 / 101, 12);
  });

  it('a duplicate detection is a false positive: AP = (51 + 50·2/3)/101', () => {
    // ranked: A (TP, r .5 p 1), A again (FP, p .5), B (TP, r 1 p 2/3)
    const r = computeMap([{ groundTruth: [gt(A), gt(B)], detections: [det(A, 0.9), det([1, 1, 100, 100], 0.8), det(B, 0.7)] }]);
    expect(r.map50).toBeCloseTo((51 + (50 * 2) / 3) / 101, 12);
  });

  it('a duplicate ranked below every true positive costs nothing', () => {
    const r = computeMap([{ groundTruth: [gt(A), gt(B)], detections: [det(A, 0.9), det(B, 0.8), det([1, 1, 100, 100], 0.1)] }]);
    expect(r.map50).toBe(1);
  });

  it('a wrong class scores 0 for the true class; the detected class without ground truth is ignored', () => {
    const r = computeMap([{ groundTruth: [gt(A, 0)], detections: [det(A, 0.9, 1)] }]);
    expect(r.perClass).toHaveLength(1);
    expect(r.perClass[0]).toMatchObject({ classId: 0, ap50: 0, ap: 0, detections: 0 });
    expect(r.ignoredClasses).toEqual([1]);
    expect(r.map50_95).toBe(0);
  });

  it('matches each detection to the unmatched ground truth with the highest IoU, not the first one', () => {
    // The first detection overlaps A (IoU .54) and A2 (IoU .82): it must take A2, leaving A for the
    // second detection (IoU .9 with A, .36 with A2). Taking the first qualifying GT would make it an FP.
    const A2: Box = [40, 0, 140, 100];
    const r = computeMap([{ groundTruth: [gt(A), gt(A2)], detections: [det([30, 0, 130, 100], 0.9), det([0, 0, 90, 100], 0.8)] }]);
    expect(r.map50).toBe(1);
  });

  it('ranks detections by score across images', () => {
    // Image 1's FP outranks image 2's TP: ranked TP(.9), FP(.8), TP(.7) → same as the duplicate case.
    const r = computeMap([
      { groundTruth: [gt(A)], detections: [det(A, 0.9), det(C, 0.8)] },
      { groundTruth: [gt(B)], detections: [det(B, 0.7)] },
    ]);
    expect(r.map50).toBeCloseTo((51 + (50 * 2) / 3) / 101, 12);
  });

  it('no ground truth at all gives NaN, not a made-up number', () => {
    const r = computeMap([{ groundTruth: [], detections: [det(A, 0.9)] }]);
    expect(r.perClass).toEqual([]);
    expect(r.map50).toBeNaN();
  });
});

describe('interpolatedAp (101 recall points)', () => {
  it('uses the precision envelope at the first detection reaching each recall point', () => {
    // 3 GT; TP, FP, TP, FP → recall 1/3,1/3,2/3,2/3; precision 1,.5,2/3,.5; envelope 1,2/3,2/3,.5.
    // r in 0..0.33 (34 points) → 1; r in 0.34..0.66 (33 points) → 2/3; r ≥ 0.67 (34 points) → 0.
    expect(interpolatedAp([true, false, true, false], 3)).toBeCloseTo((34 + 33 * (2 / 3)) / 101, 12);
  });

  it('is 0 with no true positives and NaN with no ground truth', () => {
    expect(interpolatedAp([false, false], 2)).toBe(0);
    expect(interpolatedAp([], 2)).toBe(0);
    expect(interpolatedAp([true], 0)).toBeNaN();
  });

  it('a late true positive lifts precision only from its own recall on', () => {
    // FP, TP with 1 GT: precision .5 at recall 1, envelope .5 everywhere → AP .5
    expect(interpolatedAp([false, true], 1)).toBeCloseTo(0.5, 12);
  });
});
