import { describe, expect, it } from 'vitest';
import { classScoresSilent, iou, nms, postprocess } from '../../../compress/detect/postprocess.js';
import { letterboxGeometry } from '../../../compress/detect/letterbox.js';

/** Builds a [1, 4+nc, N] head output from (cx, cy, w, h, scores[]) anchors. */
function head(anchors: [number, number, number, number, number[]][], nc: number) {
  const n = anchors.length;
  const data = new Float32Array((4 + nc) * n);
  anchors.forEach(([cx, cy, w, h, scores], i) => {
    data[i] = cx;
    data[n + i] = cy;
    data[2 * n + i] = w;
    data[3 * n + i] = h;
    scores.forEach((s, c) => (data[(4 + c) * n + i] = s));
  });
  return { data, dims: [1, 4 + nc, n] };
}

const identity = letterboxGeometry(640, 640, 640);

describe('nms', () => {
  it('suppresses an overlapping box of the same class and keeps other classes', () => {
    const boxes = new Float32Array([0, 0, 100, 100, 5, 5, 105, 105, 5, 5, 105, 105, 300, 300, 400, 400]);
    const kept = nms(boxes, [0.9, 0.8, 0.7, 0.6], [0, 0, 1, 0], 0.45);
    expect(kept).toEqual([0, 2, 3]);
  });

  it('keeps same-class boxes whose IoU is at or below the threshold', () => {
    const boxes = new Float32Array([0, 0, 100, 100, 50, 0, 150, 100]); // IoU 1/3
    expect(nms(boxes, [0.9, 0.8], [0, 0], 0.45)).toEqual([0, 1]);
    expect(nms(boxes, [0.9, 0.8], [0, 0], 0.3)).toEqual([0]);
  });

  it('stops at maxDetections, best scores first', () => {
    const boxes = new Float32Array(Array.from({ length: 10 }, (_, i) => [i * 200, 0, i * 200 + 100, 100]).flat());
    expect(nms(boxes, [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1], new Array(10).fill(0), 0.5, 3)).toEqual([9, 8, 7]);
  });

  it('iou of identical, disjoint and half-overlapping boxes', () => {
    expect(iou([0, 0, 10, 10], [0, 0, 10, 10])).toBe(1);
    expect(iou([0, 0, 10, 10], [20, 20, 30, 30])).toBe(0);
    expect(iou([0, 0, 10, 10], [5, 0, 15, 10])).toBeCloseTo(1 / 3, 12);
  });
});

describe('postprocess', () => {
  it('thresholds on the best class, converts cx,cy,w,h to corners and runs class-aware NMS', () => {
    const out = head([
      [50, 50, 100, 100, [0.9, 0.1]],
      [52, 52, 100, 100, [0.8, 0.2]], // duplicate person: suppressed
      [52, 52, 100, 100, [0.1, 0.7]], // same place, other class: kept
      [300, 300, 20, 20, [0.2, 0.1]], // below conf
    ], 2);
    const dets = postprocess(out, identity, { conf: 0.25, iou: 0.45 });
    expect(dets.map((d) => d.classId)).toEqual([0, 1]);
    expect(dets[0].box).toEqual([0, 0, 100, 100]);
    expect(dets[0].score).toBeCloseTo(0.9, 6);
  });

  it('multiLabel keeps one candidate per class above conf', () => {
    const out = head([[50, 50, 100, 100, [0.9, 0.6]]], 2);
    expect(postprocess(out, identity, { conf: 0.25, iou: 0.45 })).toHaveLength(1);
    expect(postprocess(out, identity, { conf: 0.25, iou: 0.45, multiLabel: true }).map((d) => d.classId)).toEqual([0, 1]);
  });

  it('keeps the best class per anchor like a running max from class 0: first class on ties, a NaN first score drops it', () => {
    const nc = 5;
    const anchors: [number, number, number, number, number[]][] = Array.from({ length: 150 }, (_, i) => {
      const scores = Array.from({ length: nc }, (_, c) => [0.1, 0.35, 0.6, 0.6, 0.9][(i * 7 + c * 3 + ((i * c) % 4)) % 5]);
      if (i % 11 === 0) scores[0] = NaN;
      if (i % 13 === 0) scores[2] = NaN;
      return [i * 3 + 50, 300, 2, 2, scores];
    });
    const expected = anchors
      .map(([, , , , scores], anchor) => {
        let best = scores[0];
        let classId = 0;
        for (let c = 1; c < nc; c++) if (scores[c] > best) [best, classId] = [scores[c], c];
        return { anchor, classId, score: Math.fround(best) };
      })
      .filter((d) => d.score >= 0.3)
      .sort((a, b) => b.score - a.score || a.anchor - b.anchor);
    // IoU 1 suppresses nothing, so the output is exactly the candidate list in NMS order.
    const dets = postprocess(head(anchors, nc), identity, { conf: 0.3, iou: 1, maxDetections: 1000 });
    expect(dets.map((d) => ({ anchor: (d.box[0] - 49) / 3, classId: d.classId, score: d.score }))).toEqual(expected);
    expect(expected.length).toBeGreaterThan(50);
  });

  it('multiLabel keeps every score ≥ conf, ties in class-major order, across calls of different sizes', () => {
    const big = head(Array.from({ length: 5000 }, () => [320, 320, 10, 10, [0.5, 0.5, 0.5]] as [number, number, number, number, number[]]), 3);
    const dets = postprocess(big, identity, { conf: 0.5, iou: 1, maxDetections: 20_000, multiLabel: true });
    expect(dets).toHaveLength(15_000);
    expect([dets[0].classId, dets[4999].classId, dets[5000].classId, dets[14_999].classId]).toEqual([0, 0, 1, 2]);
    const small = postprocess(head([[50, 50, 10, 10, [0.2, 0.7, 0.4]]], 3), identity, { conf: 0.3, iou: 0.5, multiLabel: true });
    expect(small.map((d) => [d.classId, d.score])).toEqual([[1, Math.fround(0.7)], [2, Math.fround(0.4)]]);
  });

  it('maps boxes back through the letterbox', () => {
    const t = letterboxGeometry(1280, 720, 640); // scale .5, padY 140
    const dets = postprocess(head([[320, 320, 100, 50, [0.9]]], 1), t, { conf: 0.25, iou: 0.45 });
    expect(dets[0].box).toEqual([540, 310, 740, 410]);
  });

  it('rejects an output that is not [1, 4+nc, N]', () => {
    expect(() => postprocess({ data: new Float32Array(8), dims: [1, 8] }, identity, { conf: 0.25, iou: 0.45 })).toThrow(/\[1, 4\+classes, anchors\]/);
    expect(() => postprocess({ data: new Float32Array(8), dims: [1, 6, 2] }, identity, { conf: 0.25, iou: 0.45 })).toThrow(/expected 12/);
  });
});

describe('classScoresSilent', () => {
  // [1, 4 + 2 classes, 3 anchors]: box rows first, then class rows
  const output = (scores: number[]) => ({ dims: [1, 6, 3], data: Float32Array.from([10, 20, 30, 10, 20, 30, 5, 5, 5, 5, 5, 5, ...scores]) });
  it('is true only when no class score differs from 0 (NaN counts as nothing)', () => {
    expect(classScoresSilent(output([0, 0, 0, 0, 0, 0]))).toBe(true);
    expect(classScoresSilent(output([0, NaN, 0, 0, NaN, 0]))).toBe(true);
    expect(classScoresSilent(output([0, 0, 0, 0, 1e-30, 0]))).toBe(false);
    // box coordinates are not scores
    expect(classScoresSilent({ dims: [1, 6, 3], data: new Float32Array(18).fill(0).map((_, i) => (i < 12 ? 7 : 0)) })).toBe(true);
  });
});
