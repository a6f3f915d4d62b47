import { describe, expect, it } from 'vitest';
import { iou, nms, postprocess } from '../../../compress/detect/postprocess.js';
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
