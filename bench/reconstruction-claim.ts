// Issue 21's reconstruction claim, as the pruning benchmark checks it:
// reconstruction (what `--reconstruct` does by default: channel substitution,
// then the guarded statistics recalibration) must not lower held-out fidelity
// by more than 0.005 against the same plan left unrecovered, at any FLOPs cut,
// for every importance method, uniform and sensitivity-allocated, on both
// held-out measures (the six images and their views). Pure: the benchmark
// measures, this decides.

/** How far reconstruction may fall below the unrecovered plan on either measure. */
export const RECONSTRUCTION_TOLERANCE = 0.005;

export const HELD_OUT_MEASURES = ['images', 'views'] as const;
export type HeldOutMeasure = (typeof HELD_OUT_MEASURES)[number];

/** One (method, cut, allocation) of the benchmark: held-out fidelity of the plan unrecovered and reconstructed, per measure. */
export interface ReconstructionCell {
  method: string;
  cut: number;
  allocation: 'uniform' | 'sensitivity';
  unreconstructed: Record<HeldOutMeasure, number>;
  reconstructed: Record<HeldOutMeasure, number>;
}

/** One line per measure on which the cell breaks the claim, with its figures; empty where it holds. */
export function reconstructionClaim(cell: ReconstructionCell): string[] {
  const violations: string[] = [];
  for (const measure of HELD_OUT_MEASURES) {
    const before = cell.unreconstructed[measure];
    const after = cell.reconstructed[measure];
    if (!Number.isFinite(before) || !Number.isFinite(after)) throw new Error(`reconstruction claim: ${cell.method} ${cell.cut} ${cell.allocation} has no ${measure} figure`);
    // the rounding guard keeps a difference of exactly the tolerance (0.3 - 0.305 is -0.00500000000000006) inside the claim
    const drop = before - after;
    if (drop > RECONSTRUCTION_TOLERANCE + 1e-12) {
      violations.push(`${cell.method} ${(cell.cut * 100).toFixed(0)}% ${cell.allocation}, ${measure}: reconstruction lowered held-out fidelity ${before.toFixed(3)} → ${after.toFixed(3)} (−${drop.toFixed(3)}, allowed −${RECONSTRUCTION_TOLERANCE})`);
    }
  }
  return violations;
}
