import { describe, expect, it } from 'vitest';
import { RECONSTRUCTION_TOLERANCE, reconstructionClaim, type ReconstructionCell } from '../../bench/reconstruction-claim.js';

function cell(images: [number, number], views: [number, number]): ReconstructionCell {
  return { method: 'l1', cut: 0.2, allocation: 'uniform', unreconstructed: { images: images[0], views: views[0] }, reconstructed: { images: images[1], views: views[1] } };
}

describe('reconstruction claim', () => {
  it('holds where reconstruction raises fidelity, keeps it, or lowers it by at most 0.005', () => {
    expect(RECONSTRUCTION_TOLERANCE).toBe(0.005);
    expect(reconstructionClaim(cell([0.2, 0.5], [0.1, 0.3]))).toEqual([]);
    expect(reconstructionClaim(cell([0.984, 0.984], [0.888, 0.888]))).toEqual([]);
    // exactly the tolerance below, on both measures: 0.984 − 0.979 = 0.005
    expect(reconstructionClaim(cell([0.984, 0.979], [0.888, 0.883]))).toEqual([]);
  });

  it('names each measure it breaks on, with both figures and the drop', () => {
    // the README's uniform l1 at 20% on six images: 0.19 → 0.08 is a drop of 0.11
    expect(reconstructionClaim(cell([0.19, 0.08], [0.1, 0.1]))).toEqual(['l1 20% uniform, images: reconstruction lowered held-out fidelity 0.190 → 0.080 (−0.110, allowed −0.005)']);
    // just past the tolerance (0.006) on the views only
    const v = reconstructionClaim({ ...cell([0.5, 0.6], [0.888, 0.882]), method: 'fpgm', cut: 0.35, allocation: 'sensitivity' });
    expect(v).toEqual(['fpgm 35% sensitivity, views: reconstruction lowered held-out fidelity 0.888 → 0.882 (−0.006, allowed −0.005)']);
    expect(reconstructionClaim(cell([0.5, 0.4], [0.5, 0.4]))).toHaveLength(2);
  });

  it('refuses a cell with a missing figure rather than calling it held', () => {
    expect(() => reconstructionClaim(cell([0.5, Number.NaN], [0.5, 0.5]))).toThrow(/no images figure/);
  });
});
